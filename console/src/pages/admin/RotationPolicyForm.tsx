import { type FormEvent, useState } from 'react';
import { useApi } from '../../session.tsx';
import { DurationField } from './DurationField.tsx';
import type { RotationPolicy, RotationPolicySettings } from './types.ts';
import type { Action } from './useAction.ts';

const DAY_S = 86_400;

/**
 * The main fields of a rotation policy. PUT replaces the whole policy, so the body carries
 * every setting: those shown as edited, the others (symbol set, character minimums) as read.
 */
export function RotationPolicyForm({
  path,
  policy,
  canChange,
  action,
  onSaved,
}: {
  readonly path: string;
  readonly policy: RotationPolicy;
  readonly canChange: boolean;
  readonly action: Action;
  readonly onSaved: () => void;
}) {
  const api = useApi();
  const [settings, setSettings] = useState<RotationPolicySettings>(() => settingsOf(policy));
  const set = <K extends keyof RotationPolicySettings>(key: K, value: RotationPolicySettings[K]) =>
    setSettings((current) => ({ ...current, [key]: value }));

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const ok = await action.run(
      `save the policy ${policy.name}`,
      () => api.send<RotationPolicy>('PUT', path, settings),
      (reply) => `Saved the policy ${reply.name}.`,
    );
    if (ok) onSaved();
  };

  return (
    <form className="panel" onSubmit={(e) => void submit(e)} aria-label="Rotation and check-out">
      <fieldset disabled={!canChange}>
        <legend>Rotation</legend>
        <div className="field-grid">
          <DurationField
            id="rotation-interval"
            label="Rotate every"
            seconds={settings.rotationIntervalS}
            onChange={(s) => set('rotationIntervalS', s)}
            optional
            maxS={10 * 365 * DAY_S}
            hint="Empty: only when asked."
          />
          <div className="field">
            <label htmlFor="rotate-at">At (time of day)</label>
            <input
              id="rotate-at"
              type="time"
              aria-describedby="rotate-at-hint"
              value={settings.rotateAt ?? ''}
              onChange={(e) => set('rotateAt', e.target.value === '' ? null : e.target.value)}
            />
            <p id="rotate-at-hint" className="hint">
              Empty: any time the interval is up.
            </p>
          </div>
          <div className="field">
            <label htmlFor="time-zone">Time zone</label>
            <input
              id="time-zone"
              maxLength={64}
              spellCheck={false}
              placeholder="UTC"
              aria-describedby="time-zone-hint"
              value={settings.timeZone ?? ''}
              onChange={(e) => set('timeZone', e.target.value === '' ? null : e.target.value)}
            />
            <p id="time-zone-hint" className="hint">
              IANA name, e.g. Europe/Paris.
            </p>
          </div>
          <DurationField
            id="jitter"
            label="Spread over"
            seconds={settings.jitterS}
            onChange={(s) => set('jitterS', s ?? 0)}
            minS={0}
            maxS={7 * DAY_S}
            hint="Scheduled rotations start within this time."
          />
          <div className="field">
            <label htmlFor="max-per-target">At once per target</label>
            <input
              id="max-per-target"
              type="number"
              min={1}
              step={1}
              required
              value={settings.maxPerTarget}
              onChange={(e) => set('maxPerTarget', Number(e.target.value))}
            />
          </div>
          <div className="field">
            <label htmlFor="secret-length">Secret length</label>
            <input
              id="secret-length"
              type="number"
              min={8}
              max={256}
              step={1}
              required
              value={settings.secret.length}
              onChange={(e) =>
                set('secret', { ...settings.secret, length: Number(e.target.value) })
              }
            />
          </div>
        </div>
      </fieldset>
      <fieldset disabled={!canChange}>
        <legend>Check-out</legend>
        <div className="field-grid">
          <DurationField
            id="max-checkout"
            label="Longest check-out"
            seconds={settings.maxCheckoutS}
            onChange={(s) => set('maxCheckoutS', s ?? 8 * 3600)}
            maxS={30 * DAY_S}
          />
        </div>
        <div className="checks">
          <Check
            id="exclusive-checkout"
            label="One holder at a time"
            checked={settings.exclusiveCheckout}
            onChange={(v) => set('exclusiveCheckout', v)}
          />
          <Check
            id="rotate-on-checkin"
            label="Rotate at check-in"
            checked={settings.rotateOnCheckin}
            onChange={(v) => set('rotateOnCheckin', v)}
          />
          <Check
            id="rotate-on-expiry"
            label="Rotate when a check-out expires"
            checked={settings.rotateOnCheckoutExpiry}
            onChange={(v) => set('rotateOnCheckoutExpiry', v)}
          />
        </div>
      </fieldset>
      {canChange && (
        <div className="actions">
          <button type="submit" disabled={action.busy}>
            Save policy
          </button>
        </div>
      )}
    </form>
  );
}

export function Check({
  id,
  label,
  checked,
  onChange,
}: {
  readonly id: string;
  readonly label: string;
  readonly checked: boolean;
  readonly onChange: (checked: boolean) => void;
}) {
  return (
    <div className="check">
      <input
        id={id}
        type="checkbox"
        checked={checked}
        onChange={(e) => onChange(e.target.checked)}
      />
      <label htmlFor={id}>{label}</label>
    </div>
  );
}

function settingsOf(policy: RotationPolicy): RotationPolicySettings {
  return {
    rotationIntervalS: policy.rotationIntervalS,
    secret: policy.secret,
    exclusiveCheckout: policy.exclusiveCheckout,
    rotateOnCheckin: policy.rotateOnCheckin,
    maxCheckoutS: policy.maxCheckoutS,
    rotateAt: policy.rotateAt,
    timeZone: policy.timeZone,
    jitterS: policy.jitterS,
    maxPerTarget: policy.maxPerTarget,
    rotateOnCheckoutExpiry: policy.rotateOnCheckoutExpiry,
  };
}
