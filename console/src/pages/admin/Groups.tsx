import { type FormEvent, useState } from 'react';
import { EmptyState } from '../../components/EmptyState.tsx';
import { ResourceView } from '../../components/ResourceView.tsx';
import { useApi } from '../../session.tsx';
import { usePageTitle } from '../../usePageTitle.ts';
import { ActionAnswer } from './ActionAnswer.tsx';
import type { Group } from './types.ts';
import { UserNames } from './UserNames.tsx';
import { type Action, useAction } from './useAction.ts';
import { useKeptResource } from './useKeptResource.ts';

const memberPath = (group: string, user: string) =>
  `/v1/groups/${encodeURIComponent(group)}/members/${encodeURIComponent(user)}`;

/** Groups: who approves access requests where an access policy names a group. */
export function Groups({ canChange }: { readonly canChange: boolean }) {
  usePageTitle('Groups · Administration');
  const resource = useKeptResource<{ groups: Group[] }>('/v1/groups');
  const action = useAction();
  return (
    <>
      {canChange && <CreateGroup onCreated={resource.reload} />}
      {/* One list of names for every group's "add a user" field. */}
      {canChange && <UserNames id="group-user-names" />}
      <section aria-labelledby="groups-title">
        <div className="section-head">
          <h2 id="groups-title">Groups</h2>
        </div>
        <ActionAnswer state={action.state} />
        <ResourceView resource={resource} what="groups">
          {({ groups }) =>
            groups.length === 0 ? (
              <EmptyState>
                No group yet. A group names the approvers of a safe&apos;s access policy.
              </EmptyState>
            ) : (
              <div className="grid">
                {groups.map((group) => (
                  <GroupCard
                    key={group.name}
                    group={group}
                    canChange={canChange}
                    action={action}
                    onChanged={resource.reload}
                  />
                ))}
              </div>
            )
          }
        </ResourceView>
      </section>
    </>
  );
}

function GroupCard({
  group,
  canChange,
  action,
  onChanged,
}: {
  readonly group: Group;
  readonly canChange: boolean;
  readonly action: Action;
  readonly onChanged: () => void;
}) {
  const api = useApi();
  const [user, setUser] = useState('');
  const titleId = `group-${group.name}-title`;
  const inputId = `group-${group.name}-user`;

  const change = async (verb: 'PUT' | 'DELETE', name: string) => {
    const adding = verb === 'PUT';
    const ok = await action.run(
      adding ? `add ${name} to ${group.name}` : `remove ${name} from ${group.name}`,
      () => api.send<Group>(verb, memberPath(group.name, name)),
      (reply) =>
        `${adding ? 'Added' : 'Removed'} ${name}. ${reply.name} has ` +
        `${reply.members.length === 0 ? 'no member' : reply.members.join(', ')}.`,
    );
    if (!ok) return;
    if (adding) setUser('');
    onChanged();
  };
  const add = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    void change('PUT', user.trim());
  };

  return (
    <article className="panel" aria-labelledby={titleId}>
      <h3 id={titleId}>{group.name}</h3>
      {group.description !== '' && <p className="item-meta">{group.description}</p>}
      {group.members.length === 0 ? (
        <EmptyState>No member yet.</EmptyState>
      ) : (
        <ul className="items">
          {group.members.map((member) => (
            <li key={member} className="member-line">
              <span className="item-title">{member}</span>
              {canChange && (
                <button
                  type="button"
                  className="button-danger button-small"
                  disabled={action.busy}
                  onClick={() => void change('DELETE', member)}
                >
                  Remove
                  <span className="visually-hidden">
                    {' '}
                    {member} from {group.name}
                  </span>
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      {canChange && (
        <form className="inline-form" onSubmit={add} aria-label={`Add a member to ${group.name}`}>
          <div className="field">
            <label htmlFor={inputId}>Add a user</label>
            <input
              id={inputId}
              required
              list="group-user-names"
              maxLength={128}
              autoComplete="off"
              spellCheck={false}
              value={user}
              onChange={(e) => setUser(e.target.value)}
            />
          </div>
          <button type="submit" disabled={action.busy}>
            Add<span className="visually-hidden"> to {group.name}</span>
          </button>
        </form>
      )}
    </article>
  );
}

function CreateGroup({ onCreated }: { readonly onCreated: () => void }) {
  const api = useApi();
  const action = useAction();
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const body = { name: name.trim(), description: description.trim() };
    const ok = await action.run(
      `create the group ${body.name}`,
      () => api.send<Group>('POST', '/v1/groups', body),
      (group) => `Created the group ${group.name}. Add its members below.`,
    );
    if (!ok) return;
    setName('');
    setDescription('');
    onCreated();
  };

  return (
    <form className="panel" onSubmit={(e) => void submit(e)} aria-labelledby="create-group-title">
      <h2 id="create-group-title">Create a group</h2>
      <div className="field-row">
        <div className="field">
          <label htmlFor="group-name">Group name</label>
          <input
            id="group-name"
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
          <label htmlFor="group-description">Description (optional)</label>
          <input
            id="group-description"
            maxLength={500}
            value={description}
            onChange={(e) => setDescription(e.target.value)}
          />
        </div>
      </div>
      <div className="actions">
        <button type="submit" disabled={action.busy}>
          Create group
        </button>
      </div>
      <ActionAnswer state={action.state} />
    </form>
  );
}
