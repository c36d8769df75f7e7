import { type FormEvent, useState } from 'react';
import { Link } from 'react-router';
import { EmptyState } from '../../components/EmptyState.tsx';
import { ResourceView } from '../../components/ResourceView.tsx';
import { formatTime } from '../../format.ts';
import { useApi } from '../../session.tsx';
import { usePageTitle } from '../../usePageTitle.ts';
import { ActionAnswer } from './ActionAnswer.tsx';
import type { Safe } from './types.ts';
import { useAction } from './useAction.ts';
import { useKeptResource } from './useKeptResource.ts';

/** Safes: the list, each leading to its members and access policy; admins create them. */
export function Safes({ canChange }: { readonly canChange: boolean }) {
  usePageTitle('Safes · Administration');
  const resource = useKeptResource<{ safes: Safe[] }>('/v1/safes');
  return (
    <>
      {canChange && <CreateSafe onCreated={resource.reload} />}
      <section aria-labelledby="safes-title">
        <div className="section-head">
          <h2 id="safes-title">Safes</h2>
        </div>
        <ResourceView resource={resource} what="safes">
          {({ safes }) =>
            safes.length === 0 ? (
              <EmptyState>
                No safe yet.{' '}
                {canChange ? 'Create one above, then add its members.' : 'An admin creates them.'}
              </EmptyState>
            ) : (
              <div className="table-scroll">
                <table>
                  <caption className="visually-hidden">Safes</caption>
                  <thead>
                    <tr>
                      <th scope="col">Name</th>
                      <th scope="col">Description</th>
                      <th scope="col">Created</th>
                    </tr>
                  </thead>
                  <tbody>
                    {safes.map((safe) => (
                      <tr key={safe.id}>
                        <th scope="row" data-label="Name">
                          <Link to={encodeURIComponent(safe.name)}>{safe.name}</Link>
                        </th>
                        <td data-label="Description">{safe.description || '—'}</td>
                        <td data-label="Created">{formatTime(safe.createdAt)}</td>
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

function CreateSafe({ onCreated }: { readonly onCreated: () => void }) {
  const api = useApi();
  const action = useAction();
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const body = { name: name.trim(), description: description.trim() };
    const ok = await action.run(
      `create the safe ${body.name}`,
      () => api.send<Safe>('POST', '/v1/safes', body),
      (safe) => `Created the safe ${safe.name}. Open it to add members.`,
    );
    if (!ok) return;
    setName('');
    setDescription('');
    onCreated();
  };

  return (
    <form className="panel" onSubmit={(e) => void submit(e)} aria-labelledby="create-safe-title">
      <h2 id="create-safe-title">Create a safe</h2>
      <div className="field-row">
        <div className="field">
          <label htmlFor="safe-name">Safe name</label>
          <input
            id="safe-name"
            required
            maxLength={128}
            pattern="[A-Za-z0-9][A-Za-z0-9._\-]*"
            autoComplete="off"
            spellCheck={false}
            value={name}
            onChange={(e) => setName(e.target.value)}
          />
        </div>
        <div className="field field-wide">
          <label htmlFor="safe-description">Description (optional)</label>
          <input
            id="safe-description"
            maxLength={500}
            value={description}
            onChange={(e) => setDescription(e.target.value)}
          />
        </div>
      </div>
      <div className="actions">
        <button type="submit" disabled={action.busy}>
          Create safe
        </button>
      </div>
      <ActionAnswer state={action.state} />
    </form>
  );
}
