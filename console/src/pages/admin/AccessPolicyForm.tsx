import { type FormEvent, useState } from 'react';
import { ResourceView } from '../../components/ResourceView.tsx';
import { formatTime } from '../../format.ts';
import { useApi } from '../../session.tsx';
import { ActionAnswer } from './ActionAnswer.tsx';
import { DurationField } from './DurationField.tsx';
import {
  type AccessPolicy,
  type AccessPolicySettings,
  type AccessWindow,
  GRANTABLE_PERMISSIONS,
  type GrantablePermission,
  type Group,
  WEEKDAYS,
  type Weekday,
} from './types.ts';
import { type Action, useAction } from './useAction.ts';
import { useKeptResource } from './useKeptResource.ts';

const DAY_S = 86_400;
const WORK_WEEK: readonly Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri'];
const SAVING_MAKES_OWN = ': saving gives it its own';

/**
 * A safe's access policy: which permissions need an approved request, how many approvals and
 * from which group, and the hours access is open. The form edits the policy in force (the
 * default one until the safe has its own) and keeps the settings it does not show.
 */
export function AccessPolicyPanel({
  safe,
  canChange,
}: {
  readonly safe: string;
  readonly canChange: boolean;
}) {
  const path = `/v1/safes/${encodeURIComponent(safe)}/access-policy`;
  const resource = useKeptResource<AccessPolicy>(path);
  const groups = useKeptResource<{ groups: Group[] }>('/v1/groups');
  const groupNames = groups.status === 'ready' ? groups.data.groups.map((g) => g.name) : [];
  // Here, not in the form: saving gives the form new values, and the answer must outlive it.
  const action = useAction();
  return (
    <section aria-labelledby="access-policy-title">
      <div className="section-head">
        <h2 id="access-policy-title">Access policy</h2>
      </div>
      <ResourceView resource={resource} what="the access policy">
        {(policy) => (
          <AccessPolicyForm
            key={`${policy.updatedAt ?? 'default'} ${policy.scope}`}
            path={path}
            policy={policy}
            groupNames={groupNames}
            canChange={canChange}
            action={action}
            onSaved={resource.reload}
          />
        )}
      </ResourceView>
      <ActionAnswer state={action.state} />
    </section>
  );
}

function AccessPolicyForm({
  path,
  policy,
  groupNames,
  canChange,
  action,
  onSaved,
}: {
  readonly path: string;
  readonly policy: AccessPolicy;
  readonly groupNames: readonly string[];
  readonly canChange: boolean;
  readonly action: Action;
  readonly onSaved: () => void;
}) {
  const api = useApi();
  const [settings, setSettings] = useState<AccessPolicySettings>(() => settingsOf(policy));
  const set = <K extends keyof AccessPolicySettings>(key: K, value: AccessPolicySettings[K]) =>
    setSettings((current) => ({ ...current, [key]: value }));

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const ok = await action.run(
      'save the access policy',
      () => api.send<AccessPolicy>('PUT', path, settings),
      (reply) => `Saved. ${describe(reply)}`,
    );
    if (ok) onSaved();
  };
  const reset = async () => {
    const ok = await action.run(
      'return the safe to the default access policy',
      () => api.send<null>('DELETE', path),
      () => 'The safe follows the default access policy again.',
    );
    if (ok) onSaved();
  };

  return (
    <form className="panel" onSubmit={(e) => void submit(e)} aria-label="Access policy">
      <p>
        {policy.scope === 'safe'
          ? `This safe has its own policy${updated(policy)}.`
          : `This safe follows the default policy${canChange ? SAVING_MAKES_OWN : ''}.`}{' '}
        {describe(policy)}
      </p>
      <fieldset disabled={!canChange}>
        <legend>Approval needed for</legend>
        <div className="checks">
          {GRANTABLE_PERMISSIONS.map((permission) => (
            <div className="check" key={permission}>
              <input
                id={`approval-${permission}`}
                type="checkbox"
                checked={settings.approvalFor.includes(permission)}
                onChange={(e) => set('approvalFor', toggled(settings.approvalFor, permission, e))}
              />
              <label htmlFor={`approval-${permission}`}>{permission}</label>
            </div>
          ))}
        </div>
        <p className="hint">Unticked: members use the permission without asking.</p>
      </fieldset>
      <fieldset disabled={!canChange}>
        <legend>Approvers</legend>
        <div className="field-grid">
          <div className="field">
            <label htmlFor="approvals-required">Approvals required</label>
            <input
              id="approvals-required"
              type="number"
              min={0}
              max={10}
              step={1}
              required
              value={settings.approvalsRequired}
              onChange={(e) => set('approvalsRequired', Number(e.target.value))}
            />
          </div>
          <div className="field">
            <label htmlFor="approver-group">Approver group</label>
            <select
              id="approver-group"
              value={settings.approverGroup ?? ''}
              onChange={(e) => set('approverGroup', e.target.value === '' ? null : e.target.value)}
            >
              <option value="">Any member with approve</option>
              {withCurrent(groupNames, settings.approverGroup).map((name) => (
                <option key={name} value={name}>
                  {name}
                </option>
              ))}
            </select>
          </div>
          <DurationField
            id="max-duration"
            label="Longest access granted"
            seconds={settings.maxDurationS}
            onChange={(s) => set('maxDurationS', s ?? 8 * 3600)}
            maxS={30 * DAY_S}
          />
        </div>
        <div className="checks">
          <div className="check">
            <input
              id="require-reason"
              type="checkbox"
              checked={settings.requireReason}
              onChange={(e) => set('requireReason', e.target.checked)}
            />
            <label htmlFor="require-reason">A request needs a reason</label>
          </div>
          <div className="check">
            <input
              id="require-ticket"
              type="checkbox"
              checked={settings.requireTicket}
              onChange={(e) => set('requireTicket', e.target.checked)}
            />
            <label htmlFor="require-ticket">A request needs a ticket</label>
          </div>
        </div>
      </fieldset>
      <WindowFields
        window={settings.window}
        disabled={!canChange}
        onChange={(w) => set('window', w)}
      />
      {canChange && (
        <div className="actions">
          <button type="submit" disabled={action.busy}>
            Save access policy
          </button>
          {policy.scope === 'safe' && (
            <button
              type="button"
              className="button-secondary"
              disabled={action.busy}
              onClick={() => void reset()}
            >
              Use the default policy
            </button>
          )}
        </div>
      )}
    </form>
  );
}

function WindowFields({
  window: current,
  disabled,
  onChange,
}: {
  readonly window: AccessWindow | null;
  readonly disabled: boolean;
  readonly onChange: (window: AccessWindow | null) => void;
}) {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const open = (on: boolean) =>
    onChange(on ? { days: WORK_WEEK, start: '08:00', end: '18:00', timeZone: zone } : null);
  const set = <K extends keyof AccessWindow>(key: K, value: AccessWindow[K]) =>
    current !== null && onChange({ ...current, [key]: value });
  return (
    <fieldset disabled={disabled}>
      <legend>Access window</legend>
      <div className="check">
        <input
          id="window-on"
          type="checkbox"
          checked={current !== null}
          onChange={(e) => open(e.target.checked)}
        />
        <label htmlFor="window-on">Open only on some days and hours</label>
      </div>
      {current !== null && (
        <>
          <fieldset>
            <legend>Days</legend>
            <div className="checks">
              {WEEKDAYS.map((day) => (
                <div className="check" key={day}>
                  <input
                    id={`window-${day}`}
                    type="checkbox"
                    checked={current.days.includes(day)}
                    onChange={(e) => set('days', toggled(current.days, day, e))}
                  />
                  <label htmlFor={`window-${day}`}>{day}</label>
                </div>
              ))}
            </div>
          </fieldset>
          <div className="field-grid">
            <div className="field">
              <label htmlFor="window-start">From</label>
              <input
                id="window-start"
                type="time"
                required
                value={current.start}
                onChange={(e) => set('start', e.target.value)}
              />
            </div>
            <div className="field">
              <label htmlFor="window-end">Until (earlier: past midnight)</label>
              <input
                id="window-end"
                type="time"
                required
                value={current.end}
                onChange={(e) => set('end', e.target.value)}
              />
            </div>
            <div className="field">
              <label htmlFor="window-zone">Time zone</label>
              <input
                id="window-zone"
                required
                maxLength={64}
                spellCheck={false}
                value={current.timeZone}
                onChange={(e) => set('timeZone', e.target.value)}
              />
            </div>
          </div>
        </>
      )}
    </fieldset>
  );
}

/** Only the settings, as PUT takes them: the reply's scope and update stamp stay out. */
function settingsOf(policy: AccessPolicy): AccessPolicySettings {
  return {
    approvalFor: policy.approvalFor,
    approvalsRequired: policy.approvalsRequired,
    approverGroup: policy.approverGroup,
    escalateAfterS: policy.escalateAfterS,
    escalationGroup: policy.escalationGroup,
    requestTtlS: policy.requestTtlS,
    requireReason: policy.requireReason,
    requireTicket: policy.requireTicket,
    ticketPattern: policy.ticketPattern,
    ticketValidatorUrl: policy.ticketValidatorUrl,
    maxDurationS: policy.maxDurationS,
    window: policy.window,
    breakglassWindowS: policy.breakglassWindowS,
    ephemeralReveal: policy.ephemeralReveal,
  };
}

function describe(policy: AccessPolicySettings): string {
  const gated =
    policy.approvalFor.length === 0
      ? 'No permission needs an approval'
      : `${policy.approvalFor.join(', ')} ${policy.approvalFor.length === 1 ? 'needs' : 'need'} ` +
        `${policy.approvalsRequired} ` +
        `${policy.approvalsRequired === 1 ? 'approval' : 'approvals'}` +
        (policy.approverGroup === null ? '' : ` from ${policy.approverGroup}`);
  const window =
    policy.window === null
      ? 'open at all hours'
      : `open ${policy.window.days.join(', ')} ${policy.window.start}–${policy.window.end} ` +
        `(${policy.window.timeZone})`;
  return `${gated}; ${window}.`;
}

function updated(policy: AccessPolicy): string {
  if (policy.updatedAt === null) return '';
  return `, changed ${formatTime(policy.updatedAt)} by ${policy.updatedBy ?? 'unknown'}`;
}

function toggled<T extends GrantablePermission | Weekday>(
  list: readonly T[],
  item: T,
  event: { target: { checked: boolean } },
): T[] {
  const rest = list.filter((x) => x !== item);
  return event.target.checked ? [...rest, item] : rest;
}

/** The choices, with the current value kept even if the list of groups could not be read. */
function withCurrent(names: readonly string[], current: string | null): string[] {
  return current === null || names.includes(current) ? [...names] : [current, ...names];
}
