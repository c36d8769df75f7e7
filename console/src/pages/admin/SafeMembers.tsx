import { type FormEvent, useState } from 'react';
import { EmptyState } from '../../components/EmptyState.tsx';
import { formatTime } from '../../format.ts';
import { useApi } from '../../session.tsx';
import { ActionAnswer } from './ActionAnswer.tsx';
import { orderedPermissions, PermissionChecks } from './PermissionChecks.tsx';
import type { Member, SafePermission } from './types.ts';
import { UserNames } from './UserNames.tsx';
import { type Action, useAction } from './useAction.ts';

const memberPath = (safe: string, user: string) =>
  `/v1/safes/${encodeURIComponent(safe)}/members/${encodeURIComponent(user)}`;

/** A safe's members and their permissions; admins add, change and remove them. */
export function SafeMembers({
  safe,
  members,
  canChange,
  onChanged,
}: {
  readonly safe: string;
  readonly members: readonly Member[];
  readonly canChange: boolean;
  readonly onChanged: () => void;
}) {
  const action = useAction();
  const [editing, setEditing] = useState<string | null>(null);
  return (
    <section aria-labelledby="members-title">
      <div className="section-head">
        <h2 id="members-title">Members</h2>
      </div>
      {canChange && <AddMember safe={safe} members={members} onAdded={onChanged} />}
      <ActionAnswer state={action.state} />
      {members.length === 0 ? (
        <EmptyState>
          No one is a member of {safe} yet.{' '}
          {canChange ? 'Add a user above, with the permissions they need.' : ''}
        </EmptyState>
      ) : (
        <div className="table-scroll">
          <table>
            <caption className="visually-hidden">Members of {safe}</caption>
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">Permissions</th>
                <th scope="col">Added</th>
                {canChange && (
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                )}
              </tr>
            </thead>
            <tbody>
              {members.map((member) =>
                editing === member.user ? (
                  <tr key={member.user}>
                    <td colSpan={canChange ? 4 : 3}>
                      <EditMember
                        safe={safe}
                        member={member}
                        action={action}
                        onDone={(changed) => {
                          setEditing(null);
                          if (changed) onChanged();
                        }}
                      />
                    </td>
                  </tr>
                ) : (
                  <MemberRow
                    key={member.user}
                    safe={safe}
                    member={member}
                    canChange={canChange}
                    action={action}
                    onEdit={() => setEditing(member.user)}
                    onRemoved={onChanged}
                  />
                ),
              )}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function MemberRow({
  safe,
  member,
  canChange,
  action,
  onEdit,
  onRemoved,
}: {
  readonly safe: string;
  readonly member: Member;
  readonly canChange: boolean;
  readonly action: Action;
  readonly onEdit: () => void;
  readonly onRemoved: () => void;
}) {
  const api = useApi();
  const remove = async () => {
    const ok = await action.run(
      `remove ${member.user} from ${safe}`,
      () => api.send<null>('DELETE', memberPath(safe, member.user)),
      () => `Removed ${member.user} from ${safe}.`,
    );
    if (ok) onRemoved();
  };
  return (
    <tr>
      <th scope="row" data-label="User">
        {member.user}
      </th>
      <td data-label="Permissions">
        {/* One child: on a narrow window the cell is a grid of label and value. */}
        <span>
          {member.permissions.map((p) => (
            <span key={p} className="tag">
              {p}
            </span>
          ))}
        </span>
      </td>
      <td data-label="Added">
        {formatTime(member.addedAt)} by {member.addedBy}
      </td>
      {canChange && (
        <td className="cell-action">
          <button type="button" className="button-secondary button-small" onClick={onEdit}>
            Change<span className="visually-hidden"> permissions of {member.user}</span>
          </button>{' '}
          <button
            type="button"
            className="button-danger button-small"
            disabled={action.busy}
            onClick={() => void remove()}
          >
            Remove<span className="visually-hidden"> {member.user}</span>
          </button>
        </td>
      )}
    </tr>
  );
}

function EditMember({
  safe,
  member,
  action,
  onDone,
}: {
  readonly safe: string;
  readonly member: Member;
  readonly action: Action;
  readonly onDone: (changed: boolean) => void;
}) {
  const api = useApi();
  const [permissions, setPermissions] = useState<ReadonlySet<SafePermission>>(
    new Set(member.permissions),
  );
  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const ok = await action.run(
      `change the permissions of ${member.user} in ${safe}`,
      () =>
        api.send<Member>('PUT', memberPath(safe, member.user), {
          permissions: orderedPermissions(permissions),
        }),
      (reply) => `${reply.user} now holds ${reply.permissions.join(', ')} in ${safe}.`,
    );
    if (ok) onDone(true);
  };
  return (
    <form onSubmit={(e) => void submit(e)} aria-label={`Permissions of ${member.user}`}>
      <PermissionChecks
        idPrefix={`edit-${member.user}`}
        legend={`Permissions of ${member.user}`}
        value={permissions}
        onChange={setPermissions}
      />
      <div className="actions">
        <button type="submit" disabled={action.busy || permissions.size === 0}>
          Save permissions
        </button>
        <button type="button" className="button-secondary" onClick={() => onDone(false)}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function AddMember({
  safe,
  members,
  onAdded,
}: {
  readonly safe: string;
  readonly members: readonly Member[];
  readonly onAdded: () => void;
}) {
  const api = useApi();
  const action = useAction();
  const [user, setUser] = useState('');
  const [permissions, setPermissions] = useState<ReadonlySet<SafePermission>>(new Set(['list']));

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const name = user.trim();
    const ok = await action.run(
      `add ${name} to ${safe}`,
      () =>
        api.send<Member>('PUT', memberPath(safe, name), {
          permissions: orderedPermissions(permissions),
        }),
      (reply) => `${reply.user} is a member of ${safe} with ${reply.permissions.join(', ')}.`,
    );
    if (!ok) return;
    setUser('');
    setPermissions(new Set(['list']));
    onAdded();
  };

  return (
    <form className="panel" onSubmit={(e) => void submit(e)} aria-labelledby="add-member-title">
      <h3 id="add-member-title">Add a member</h3>
      <div className="field-row">
        <div className="field">
          <label htmlFor="member-user">User name</label>
          <input
            id="member-user"
            required
            list="member-user-names"
            maxLength={128}
            autoComplete="off"
            spellCheck={false}
            value={user}
            onChange={(e) => setUser(e.target.value)}
          />
          <UserNames id="member-user-names" except={members.map((m) => m.user)} />
        </div>
      </div>
      <PermissionChecks
        idPrefix="member-permission"
        legend="Permissions"
        value={permissions}
        onChange={setPermissions}
      />
      {permissions.size === 0 && (
        <p className="hint" role="status">
          Choose at least one permission.
        </p>
      )}
      <div className="actions">
        <button type="submit" disabled={action.busy || permissions.size === 0}>
          Add member
        </button>
      </div>
      <ActionAnswer state={action.state} />
    </form>
  );
}
