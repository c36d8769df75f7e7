import { type FormEvent, useState } from 'react';
import type { Role } from '../../api-types.ts';
import { EmptyState } from '../../components/EmptyState.tsx';
import { ResourceView } from '../../components/ResourceView.tsx';
import { formatTime } from '../../format.ts';
import { useApi, useUser } from '../../session.tsx';
import { usePageTitle } from '../../usePageTitle.ts';
import { ActionAnswer } from './ActionAnswer.tsx';
import { ROLES, type User } from './types.ts';
import { useAction } from './useAction.ts';
import { useKeptResource } from './useKeptResource.ts';

/** Users: who they are, their role, whether they may sign in; admins add and offboard them. */
export function Users({ canChange }: { readonly canChange: boolean }) {
  usePageTitle('Users · Administration');
  const resource = useKeptResource<{ users: User[] }>('/v1/users');
  const action = useAction();
  return (
    <>
      {canChange && <CreateUser onCreated={resource.reload} />}
      <section aria-labelledby="users-title">
        <div className="section-head">
          <h2 id="users-title">Users</h2>
        </div>
        <ActionAnswer state={action.state} />
        <ResourceView resource={resource} what="users">
          {({ users }) =>
            users.length === 0 ? (
              <EmptyState>No user yet. Create the first one above.</EmptyState>
            ) : (
              <UserTable
                users={users}
                canChange={canChange}
                action={action}
                onChanged={resource.reload}
              />
            )
          }
        </ResourceView>
      </section>
    </>
  );
}

function UserTable({
  users,
  canChange,
  action,
  onChanged,
}: {
  readonly users: readonly User[];
  readonly canChange: boolean;
  readonly action: ReturnType<typeof useAction>;
  readonly onChanged: () => void;
}) {
  const api = useApi();
  const me = useUser();
  const setDisabled = async (user: User, disabled: boolean) => {
    const verb = disabled ? 'disable' : 'enable';
    const ok = await action.run(
      `${verb} ${user.name}`,
      () => api.send<User>('POST', `/v1/users/${encodeURIComponent(user.name)}/${verb}`),
      (reply) =>
        reply.disabled
          ? `${reply.name} is disabled: no sign-in, and every token of theirs is revoked.`
          : `${reply.name} is enabled and may sign in again.`,
    );
    if (ok) onChanged();
  };

  return (
    <div className="table-scroll">
      <table>
        <caption className="visually-hidden">Users</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Role</th>
            <th scope="col">Status</th>
            <th scope="col">Created</th>
            {canChange && (
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>
          {users.map((user) => (
            <tr key={user.id}>
              <th scope="row" data-label="Name">
                {user.name}
              </th>
              <td data-label="Role">{user.role}</td>
              <td data-label="Status">
                <span className={user.disabled ? 'status-off' : 'status-on'}>
                  {user.disabled ? 'disabled' : 'active'}
                </span>
              </td>
              <td data-label="Created">{formatTime(user.createdAt)}</td>
              {canChange && (
                <td className="cell-action">
                  {user.name === me.name ? (
                    <span className="hint">you</span>
                  ) : (
                    <button
                      type="button"
                      className={
                        user.disabled
                          ? 'button-small button-secondary'
                          : 'button-small button-danger'
                      }
                      disabled={action.busy}
                      onClick={() => void setDisabled(user, !user.disabled)}
                    >
                      {user.disabled ? 'Enable' : 'Disable'}
                      <span className="visually-hidden"> {user.name}</span>
                    </button>
                  )}
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function CreateUser({ onCreated }: { readonly onCreated: () => void }) {
  const api = useApi();
  const action = useAction();
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('user');
  const [password, setPassword] = useState('');

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const body =
      password === '' ? { name: name.trim(), role } : { name: name.trim(), role, password };
    // The password leaves the page with the request, whatever the answer.
    setPassword('');
    const ok = await action.run(
      `create the user ${body.name}`,
      () => api.send<User>('POST', '/v1/users', body),
      (user) => `Created ${user.name} with the role ${user.role}.`,
    );
    if (!ok) return;
    setName('');
    onCreated();
  };

  return (
    <form className="panel" onSubmit={(e) => void submit(e)} aria-labelledby="create-user-title">
      <h2 id="create-user-title">Create a user</h2>
      <div className="field-grid">
        <div className="field">
          <label htmlFor="user-name">User name</label>
          <input
            id="user-name"
            required
            maxLength={128}
            pattern="[A-Za-z0-9][A-Za-z0-9._\-]*"
            autoComplete="off"
            spellCheck={false}
            aria-describedby="user-name-hint"
            value={name}
            onChange={(e) => setName(e.target.value)}
          />
          <p id="user-name-hint" className="hint">
            Letters, digits, dot, dash, underscore.
          </p>
        </div>
        <div className="field">
          <label htmlFor="user-role">Role</label>
          <select
            id="user-role"
            value={role}
            onChange={(e) => setRole(ROLES.find((r) => r === e.target.value) ?? 'user')}
          >
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="user-password">Password (optional)</label>
          <input
            id="user-password"
            type="password"
            autoComplete="new-password"
            maxLength={1024}
            aria-describedby="user-password-hint"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
          <p id="user-password-hint" className="hint">
            Without one, the user cannot sign in until a password is set.
          </p>
        </div>
      </div>
      <div className="actions">
        <button type="submit" disabled={action.busy}>
          Create user
        </button>
      </div>
      <ActionAnswer state={action.state} />
    </form>
  );
}
