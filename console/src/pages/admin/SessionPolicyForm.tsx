import { type FormEvent, useState } from 'react';
import { useApi } from '../../session.tsx';
import { DurationField } from './DurationField.tsx';
import { Check } from './RotationPolicyForm.tsx';
import type { SessionPolicy } from './types.ts';
import type { Action } from './useAction.ts';

const DAY_S = 86_400;

const TOGGLES: readonly { key: keyof SessionPolicy; label: string }[] = [
  { key: 'recordInput', label: 'Record keystrokes as well as the screen' },
  {
    key: 'recordingRequired',
    label: 'Refuse a session that cannot be recorded; end one whose recording fails',
  },
  {
    key: 'holdForRecording',
    label: 'Hold output, up to 250 ms at a time, while the recording catches up',
  },
  { key: 'endOnRecordingDrop', label: 'End a session whose recorder had to drop output' },
  { key: 'allowSftp', label: 'Allow SFTP file transfer' },
  { key: 'allowPortForwarding', label: 'Allow port forwarding' },
  { key: 'allowAgentForwarding', label: 'Allow SSH agent forwarding' },
  { key: 'allowX11', label: 'Allow X11 forwarding' },
];

/**
 * How sessions through the gateway behave under a policy. PUT gives a setting left out its
 * default, so the body carries all of them.
 */
export function SessionPolicyForm({
  path,
  settings: initial,
  canChange,
  action,
  onSaved,
}: {
  readonly path: string;
  readonly settings: SessionPolicy;
  readonly canChange: boolean;
  readonly action: Action;
  readonly onSaved: () => void;
}) {
  const api = useApi();
  const [settings, setSettings] = useState(initial);
  const set = <K extends keyof SessionPolicy>(key: K, value: SessionPolicy[K]) =>
    setSettings((current) => ({ ...current, [key]: value }));

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const ok = await action.run(
      'save the session settings',
      () => api.send<SessionPolicy>('PUT', path, settings),
      (reply) => `Saved. ${summaryOf(reply)}`,
    );
    if (ok) onSaved();
  };

  return (
    <form className="panel" onSubmit={(e) => void submit(e)} aria-label="Session settings">
      <fieldset disabled={!canChange}>
        <legend>Recording and channels</legend>
        <div className="checks checks-column">
          {TOGGLES.map(({ key, label }) => (
            <Check
              key={key}
              id={`session-${key}`}
              label={label}
              checked={settings[key] === true}
              onChange={(v) => set(key, v)}
            />
          ))}
        </div>
      </fieldset>
      <fieldset disabled={!canChange}>
        <legend>Time limits</legend>
        <div className="field-grid">
          <DurationField
            id="idle-timeout"
            label="End when idle for"
            seconds={settings.idleTimeoutS}
            onChange={(s) => set('idleTimeoutS', s)}
            optional
            minS={1}
            maxS={30 * DAY_S}
            hint="Empty: never."
          />
          <DurationField
            id="max-session"
            label="End after"
            seconds={settings.maxSessionS}
            onChange={(s) => set('maxSessionS', s)}
            optional
            minS={1}
            maxS={30 * DAY_S}
            hint="Empty: no limit."
          />
        </div>
      </fieldset>
      {canChange && (
        <div className="actions">
          <button type="submit" disabled={action.busy}>
            Save session settings
          </button>
        </div>
      )}
    </form>
  );
}

/** The saved settings in a sentence, from the server's reply. */
function summaryOf(policy: SessionPolicy): string {
  const allowed = (on: boolean) => (on ? 'allowed' : 'refused');
  return (
    `Recording ${policy.recordingRequired ? 'required' : 'when possible'}; ` +
    `SFTP ${allowed(policy.allowSftp)}; port forwarding ${allowed(policy.allowPortForwarding)}; ` +
    `agent forwarding ${allowed(policy.allowAgentForwarding)}; X11 ${allowed(policy.allowX11)}.`
  );
}
