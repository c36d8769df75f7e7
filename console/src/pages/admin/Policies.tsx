import { type FormEvent, useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { ApiError } from '../../api.ts';
import { EmptyState } from '../../components/EmptyState.tsx';
import { ResourceView } from '../../components/ResourceView.tsx';
import { formatDuration } from '../../format.ts';
import { useApi } from '../../session.tsx';
import { usePageTitle } from '../../usePageTitle.ts';
import { ActionAnswer } from './ActionAnswer.tsx';
import type { RotationPolicy } from './types.ts';
import { useAction } from './useAction.ts';
import { useKeptResource } from './useKeptResource.ts';

/**
 * Policies: each account follows one, for its rotation and check-out rules and for how its
 * sessions through the gateway behave. The list leads to each policy's settings.
 */
export function Policies({ canChange }: { readonly canChange: boolean }) {
  usePageTitle('Policies · Administration');
  const resource = useKeptResource<{ policies: RotationPolicy[] }>('/v1/policies');
  return (
    <>
      {canChange && <CreatePolicy />}
      <section aria-labelledby="policies-title">
        <div className="section-head">
          <h2 id="policies-title">Policies</h2>
        </div>
        <ResourceView resource={resource} what="policies">
          {({ policies }) =>
            policies.length === 0 ? (
              <EmptyState>No policy yet.</EmptyState>
            ) : (
              <div className="table-scroll">
                <table>
                  <caption className="visually-hidden">Rotation policies</caption>
                  <thead>
                    <tr>
                      <th scope="col">Name</th>
                      <th scope="col">Rotates</th>
                      <th scope="col">Check-out</th>
                      <th scope="col">Secret</th>
                    </tr>
                  </thead>
                  <tbody>
                    {policies.map((policy) => (
                      <tr key={policy.id}>
                        <th scope="row" data-label="Name">
                          <Link to={encodeURIComponent(policy.name)}>{policy.name}</Link>
                        </th>
                        <td data-label="Rotates">{rotationOf(policy)}</td>
                        <td data-label="Check-out">
                          {policy.exclusiveCheckout ? 'exclusive' : 'shared'}, at most{' '}
                          {formatDuration(policy.maxCheckoutS)}
                          {policy.rotateOnCheckin ? ', rotated at check-in' : ''}
                        </td>
                        <td data-label="Secret">{policy.secret.length} characters</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )
          }
        </ResourceView>
      </section>
    </>
  );
}

export function rotationOf(policy: RotationPolicy): string {
  if (policy.rotationIntervalS === null) return 'on demand only';
  const at = policy.rotateAt === null ? '' : ` at ${policy.rotateAt} ${policy.timeZone ?? 'UTC'}`;
  return `every ${formatDuration(policy.rotationIntervalS)}${at}`;
}

/**
 * A new policy starts from the defaults (PUT fills what is left out); its page then edits it.
 * PUT replaces a policy that exists, so an existing name is refused here before it is sent.
 */
function CreatePolicy() {
  const api = useApi();
  const action = useAction();
  const navigate = useNavigate();
  const [name, setName] = useState('');

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const wanted = name.trim();
    const path = `/v1/policies/${encodeURIComponent(wanted)}`;
    const ok = await action.run(
      `create the policy ${wanted}`,
      async () => {
        const exists = await api.get<RotationPolicy>(path).then(
          () => true,
          (error: unknown) => {
            if (error instanceof ApiError && error.status === 404) return false;
            throw error;
          },
        );
        if (exists) throw new Error(`A policy named ${wanted} already exists: open it to edit.`);
        return api.send<RotationPolicy>('PUT', path, {});
      },
      (policy) => `Created ${policy.name} with the default settings.`,
    );
    // The policy's page says it was created: this form is gone by then.
    if (ok) void navigate(encodeURIComponent(wanted), { state: { created: wanted } });
  };

  return (
    <form className="panel" onSubmit={(e) => void submit(e)} aria-labelledby="create-policy-title">
      <h2 id="create-policy-title">Create a policy</h2>
      <div className="field-row">
        <div className="field">
          <label htmlFor="policy-name">Policy name</label>
          <input
            id="policy-name"
            required
            maxLength={128}
            pattern="[A-Za-z0-9][A-Za-z0-9._\-]*"
            autoComplete="off"
            spellCheck={false}
            value={name}
            onChange={(e) => setName(e.target.value)}
          />
        </div>
      </div>
      <div className="actions">
        <button type="submit" disabled={action.busy}>
          Create and edit
        </button>
      </div>
      <ActionAnswer state={action.state} />
    </form>
  );
}
