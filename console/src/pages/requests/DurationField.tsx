import type { ReactNode } from 'react';
import { durationWords } from './words.ts';

export const PRESETS_S = [1800, 3600, 7200, 14_400, 28_800] as const;

export type Unit = 'minutes' | 'hours' | 'days';
const UNIT_S: Readonly<Record<Unit, number>> = { minutes: 60, hours: 3600, days: 86_400 };

/** The duration as the form holds it: a preset, or an amount and a unit typed in. */
export interface DurationValue {
  readonly preset: number | 'custom';
  readonly amount: string;
  readonly unit: Unit;
}

/** Seconds the value stands for, or null when the custom amount is not a number. */
export function secondsOf(value: DurationValue): number | null {
  if (value.preset !== 'custom') return value.preset;
  const amount = Number(value.amount.replace(',', '.'));
  if (value.amount.trim() === '' || !Number.isFinite(amount) || amount <= 0) return null;
  return Math.round(amount * UNIT_S[value.unit]);
}

/**
 * How long the access is asked for: 30 min to 8 h in one choice, or any other length typed in.
 * Presets longer than the policy allows are shown but cannot be chosen, with the reason.
 */
export function DurationField({
  value,
  onChange,
  maxS,
  error,
}: {
  readonly value: DurationValue;
  readonly onChange: (value: DurationValue) => void;
  /** The policy's longest grant, once known. */
  readonly maxS: number | null;
  readonly error: ReactNode;
}) {
  const hintId = 'ask-duration-hint';
  const errorId = 'ask-duration-error';
  const described = error === null ? hintId : `${errorId} ${hintId}`;
  return (
    <fieldset className="rq-field" aria-describedby={described}>
      <legend>For how long</legend>
      <div className="rq-choices">
        {PRESETS_S.map((s, index) => {
          const tooLong = maxS !== null && s > maxS;
          return (
            <label key={s} className="rq-choice">
              <input
                type="radio"
                name="duration"
                id={index === 0 ? 'ask-duration' : undefined}
                checked={value.preset === s}
                disabled={tooLong}
                onChange={() => onChange({ ...value, preset: s })}
              />
              {durationWords(s)}
              {tooLong && <span className="visually-hidden"> (longer than allowed)</span>}
            </label>
          );
        })}
        <label className="rq-choice">
          <input
            type="radio"
            name="duration"
            checked={value.preset === 'custom'}
            onChange={() => onChange({ ...value, preset: 'custom' })}
          />
          Other
        </label>
      </div>
      {value.preset === 'custom' && (
        <div className="rq-custom-duration">
          <div>
            <label htmlFor="ask-duration-amount">Length</label>
            <input
              id="ask-duration-amount"
              inputMode="decimal"
              value={value.amount}
              aria-invalid={error !== null || undefined}
              aria-describedby={described}
              onChange={(event) => onChange({ ...value, amount: event.target.value })}
            />
          </div>
          <div>
            <label htmlFor="ask-duration-unit">Unit</label>
            <select
              id="ask-duration-unit"
              value={value.unit}
              onChange={(event) => onChange({ ...value, unit: event.target.value as Unit })}
            >
              <option value="minutes">minutes</option>
              <option value="hours">hours</option>
              <option value="days">days</option>
            </select>
          </div>
        </div>
      )}
      {error !== null && (
        <p id={errorId} className="rq-field-error">
          {error}
        </p>
      )}
      <p id={hintId} className="hint">
        {maxS === null
          ? 'At least 1 minute. The policy sets the longest.'
          : `At least 1 minute, at most ${durationWords(maxS)} here.`}{' '}
        Access ends by itself when the time is up.
      </p>
    </fieldset>
  );
}
