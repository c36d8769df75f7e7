import { type FormEvent, type ReactNode, useId, useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { ErrorNotice } from '../../components/ErrorNotice.tsx';
import { Loading } from '../../components/Loading.tsx';
import { useApi } from '../../session.tsx';
import { usePageTitle } from '../../usePageTitle.ts';
import { type FormErrors, formErrorsOf } from './fieldErrors.ts';
import { accountPage } from './paths.ts';
import type { AccountView, Policy, SecretType, Target } from './types.ts';
import { useFetched } from './useFetched.ts';
import { useOnboardSafes } from './useOnboardSafes.ts';

const FIELDS = ['target', 'username', 'safe', 'policy', 'secretType', 'secret', 'reconcileAccount'];
const NO_ERRORS: FormErrors = { fields: {}, form: null };

interface Draft {
  target: string;
  username: string;
  safe: string;
  policy: string;
  secretType: SecretType;
  secret: string;
  reconcileAccount: string;
}

const EMPTY: Draft = {
  target: '',
  username: '',
  safe: '',
  policy: '',
  secretType: 'password',
  secret: '',
  reconcileAccount: '',
};

/**
 * Onboarding: an account that exists on a target comes under Tessera's care with its current
 * secret (POST /v1/targets/:target/accounts). The server checks everything; what it refuses is
 * said next to the field it names. The secret lives in this form's state only: it goes when
 * the form is sent successfully or left.
 */
export function OnboardForm() {
  usePageTitle('Onboard an account');
  const api = useApi();
  const navigate = useNavigate();
  const safes = useOnboardSafes();
  const targets = useFetched<{ targets: Target[] }>('/v1/targets');
  const policies = useFetched<{ policies: Policy[] }>('/v1/policies');
  const [draft, setDraft] = useState<Draft>(EMPTY);
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const [sending, setSending] = useState(false);
  const reconcilable = useFetched<{ accounts: AccountView[] }>(
    draft.target === '' ? null : `/v1/accounts?${new URLSearchParams({ target: draft.target })}`,
  );

  const set = <K extends keyof Draft>(key: K, value: Draft[K]) =>
    setDraft((old) => ({ ...old, [key]: value }));

  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setSending(true);
    setErrors(NO_ERRORS);
    const body = {
      username: draft.username,
      safe: draft.safe,
      secretType: draft.secretType,
      ...(draft.policy === '' ? {} : { policy: draft.policy }),
      ...(draft.secret === '' ? {} : { secret: draft.secret }),
      ...(draft.reconcileAccount === '' ? {} : { reconcileAccount: draft.reconcileAccount }),
    };
    const path = `/v1/targets/${encodeURIComponent(draft.target)}/accounts`;
    api.send<AccountView>('POST', path, body).then(
      (created) => {
        setDraft(EMPTY);
        void navigate(accountPage(created), { state: { onboarded: true } });
      },
      (error: unknown) => {
        setSending(false);
        setErrors(formErrorsOf(error, FIELDS));
      },
    );
  };

  if (safes.status === 'loading') return <Loading what="the safes you manage" />;
  if (safes.status === 'error') {
    return <ErrorNotice doing="find the safes you manage" error={safes.error} />;
  }

  return (
    <>
      <nav aria-label="Breadcrumb" className="acct-breadcrumb">
        <Link to="/accounts">Accounts</Link> <span aria-hidden="true">›</span> Onboard
      </nav>
      <h1 tabIndex={-1}>Onboard an account</h1>
      {safes.safes.length === 0 ? (
        <p className="state state-empty">
          Onboarding needs the admin role or the manage permission in a safe, and you hold neither.
          Ask a Tessera administrator.
        </p>
      ) : (
        <form className="panel acct-form acct-onboard" onSubmit={onSubmit}>
          <p className="hint">
            The account must already exist on the target. Tessera stores its current secret sealed,
            and rotates it by the policy you choose.
          </p>
          <Field label="Target" name="target" errors={errors}>
            {(control) => (
              <select
                {...control}
                required
                value={draft.target}
                onChange={(e) => {
                  set('target', e.target.value);
                  set('reconcileAccount', '');
                }}
              >
                <option value="">Choose a target</option>
                {targets.status === 'ready' &&
                  targets.data.targets.map((t) => (
                    <option key={t.name} value={t.name}>
                      {t.name} ({t.platform}, {t.host}:{t.port})
                    </option>
                  ))}
              </select>
            )}
          </Field>
          {targets.status === 'error' && (
            <ErrorNotice doing="load the targets" error={targets.error} retry={targets.refresh} />
          )}
          <Field label="User name on the target" name="username" errors={errors}>
            {(control) => (
              <input
                {...control}
                required
                maxLength={128}
                autoComplete="off"
                autoCapitalize="none"
                spellCheck={false}
                value={draft.username}
                onChange={(e) => set('username', e.target.value)}
              />
            )}
          </Field>
          <Field label="Safe" name="safe" errors={errors}>
            {(control) => (
              <select
                {...control}
                required
                value={draft.safe}
                onChange={(e) => set('safe', e.target.value)}
              >
                <option value="">Choose a safe</option>
                {safes.safes.map((s) => (
                  <option key={s.id} value={s.name}>
                    {s.name}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field label="Rotation policy" name="policy" errors={errors}>
            {(control) => (
              <select
                {...control}
                value={draft.policy}
                onChange={(e) => set('policy', e.target.value)}
              >
                <option value="">The default policy</option>
                {policies.status === 'ready' &&
                  policies.data.policies.map((p) => (
                    <option key={p.name} value={p.name}>
                      {p.name}
                    </option>
                  ))}
              </select>
            )}
          </Field>
          <SecretFields draft={draft} set={set} errors={errors} />
          <Field
            label="Reconcile account (optional)"
            name="reconcileAccount"
            errors={errors}
            hint="An account on the same target that can set this one's secret when it is lost."
          >
            {(control) => (
              <select
                {...control}
                value={draft.reconcileAccount}
                disabled={draft.target === ''}
                onChange={(e) => set('reconcileAccount', e.target.value)}
              >
                <option value="">None: the account changes its own secret</option>
                {reconcilable.status === 'ready' &&
                  reconcilable.data.accounts.map((a) => (
                    <option key={a.id} value={a.ref}>
                      {a.ref}
                    </option>
                  ))}
              </select>
            )}
          </Field>
          <FormProblem errors={errors} />
          <div className="acct-buttons">
            <button type="submit" disabled={sending}>
              {sending ? 'Onboarding…' : 'Onboard'}
            </button>
            <Link to="/accounts">Cancel</Link>
          </div>
        </form>
      )}
    </>
  );
}

function SecretFields({
  draft,
  set,
  errors,
}: {
  readonly draft: Draft;
  readonly set: <K extends keyof Draft>(key: K, value: Draft[K]) => void;
  readonly errors: FormErrors;
}) {
  return (
    <>
      <fieldset className="acct-choice">
        <legend>Secret type</legend>
        {(['password', 'ssh-key'] as const).map((type) => (
          <label key={type} className="acct-radio">
            <input
              type="radio"
              name="secretType"
              value={type}
              checked={draft.secretType === type}
              onChange={() => {
                // A password typed for one type is no key for the other: start again.
                set('secretType', type);
                set('secret', '');
              }}
            />
            {type === 'password' ? 'Password' : 'SSH private key'}
          </label>
        ))}
        {errors.fields.secretType !== undefined && (
          <p className="acct-field-error">{errors.fields.secretType}</p>
        )}
      </fieldset>
      <Field
        label={draft.secretType === 'password' ? 'Current password' : 'Current private key'}
        name="secret"
        errors={errors}
        hint={
          draft.secretType === 'password'
            ? 'Leave empty only with a reconcile account, which then sets a new one.'
            : 'Unencrypted, in OpenSSH format. Leave empty only with a reconcile account.'
        }
      >
        {(control) =>
          draft.secretType === 'password' ? (
            <input
              {...control}
              type="password"
              autoComplete="new-password"
              maxLength={8192}
              value={draft.secret}
              onChange={(e) => set('secret', e.target.value)}
            />
          ) : (
            <textarea
              {...control}
              className="acct-key"
              rows={6}
              maxLength={8192}
              spellCheck={false}
              autoComplete="off"
              value={draft.secret}
              onChange={(e) => set('secret', e.target.value)}
            />
          )
        }
      </Field>
    </>
  );
}

/** What a field gives its control: its id, and what describes it and whether it is wrong. */
interface ControlProps {
  readonly id: string;
  readonly 'aria-describedby': string | undefined;
  readonly 'aria-invalid': boolean;
}

/** A labelled control with its hint and the server's complaint about it, if any. */
function Field({
  label,
  name,
  errors,
  hint,
  children,
}: {
  readonly label: string;
  readonly name: string;
  readonly errors: FormErrors;
  readonly hint?: string;
  readonly children: (control: ControlProps) => ReactNode;
}) {
  const id = useId();
  const error = errors.fields[name];
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const describedBy =
    [hint === undefined ? null : hintId, error === undefined ? null : errorId]
      .filter((v) => v !== null)
      .join(' ') || undefined;
  return (
    <div className={error === undefined ? 'acct-field' : 'acct-field acct-field-invalid'}>
      <label htmlFor={id}>{label}</label>
      {children({ id, 'aria-describedby': describedBy, 'aria-invalid': error !== undefined })}
      {hint !== undefined && (
        <p className="hint" id={hintId}>
          {hint}
        </p>
      )}
      {error !== undefined && (
        <p className="acct-field-error" id={errorId} data-field={name}>
          {error}
        </p>
      )}
    </div>
  );
}

function FormProblem({ errors }: { readonly errors: FormErrors }) {
  const marked = Object.keys(errors.fields).length;
  if (errors.form !== null) return <ErrorNotice doing="onboard the account" error={errors.form} />;
  if (marked === 0) return null;
  return (
    <p className="form-error" role="alert">
      Tessera refused the form: fix the {marked === 1 ? 'field' : `${marked} fields`} marked above.
    </p>
  );
}
