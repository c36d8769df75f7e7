import { useState } from 'react';

const UNITS = [
  { name: 'minutes', seconds: 60 },
  { name: 'hours', seconds: 3600 },
  { name: 'days', seconds: 86_400 },
] as const;
type Unit = (typeof UNITS)[number]['name'];

/** The largest unit that states the duration exactly. */
function unitOf(seconds: number | null): Unit {
  if (seconds === null || seconds === 0) return 'hours';
  return [...UNITS].reverse().find((u) => seconds % u.seconds === 0)?.name ?? 'minutes';
}

function secondsOf(unit: Unit): number {
  return UNITS.find((u) => u.name === unit)?.seconds ?? 60;
}

/**
 * A duration the API takes in seconds, typed as a number and a unit. Empty means none when
 * `optional`; the browser checks the bounds (given in seconds) before the form is sent.
 */
export function DurationField({
  id,
  label,
  seconds,
  onChange,
  optional = false,
  minS = 60,
  maxS,
  hint,
}: {
  readonly id: string;
  readonly label: string;
  readonly seconds: number | null;
  readonly onChange: (seconds: number | null) => void;
  readonly optional?: boolean;
  readonly minS?: number;
  readonly maxS: number;
  readonly hint?: string;
}) {
  const [unit, setUnit] = useState<Unit>(() => unitOf(seconds));
  const [amount, setAmount] = useState(() =>
    seconds === null ? '' : String(seconds / secondsOf(unitOf(seconds))),
  );
  const per = secondsOf(unit);

  const update = (nextAmount: string, nextUnit: Unit) => {
    setAmount(nextAmount);
    setUnit(nextUnit);
    const value = Number(nextAmount);
    if (nextAmount.trim() === '') onChange(null);
    else if (Number.isFinite(value)) onChange(Math.round(value * secondsOf(nextUnit)));
  };

  const hintId = hint === undefined ? undefined : `${id}-hint`;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <div className="duration">
        <input
          id={id}
          type="number"
          inputMode="decimal"
          step="any"
          min={minS / per}
          max={maxS / per}
          required={!optional}
          aria-describedby={hintId}
          value={amount}
          onChange={(e) => update(e.target.value, unit)}
        />
        <label htmlFor={`${id}-unit`} className="visually-hidden">
          Unit of {label}
        </label>
        <select
          id={`${id}-unit`}
          value={unit}
          onChange={(e) =>
            update(amount, UNITS.find((u) => u.name === e.target.value)?.name ?? unit)
          }
        >
          {UNITS.map((u) => (
            <option key={u.name} value={u.name}>
              {u.name}
            </option>
          ))}
        </select>
      </div>
      {hint !== undefined && (
        <p id={hintId} className="hint">
          {hint}
        </p>
      )}
    </div>
  );
}
