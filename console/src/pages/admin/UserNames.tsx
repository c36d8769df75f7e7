import { useResource } from '../../useResource.ts';
import type { User } from './types.ts';

/**
 * Suggestions for a user-name field: the enabled users, with their role. Only a help for
 * typing: if the list cannot be read, the field still takes any name and the server decides.
 */
export function UserNames({
  id,
  except = [],
}: {
  readonly id: string;
  readonly except?: readonly string[];
}) {
  const resource = useResource<{ users: User[] }>('/v1/users');
  const users = resource.status === 'ready' ? resource.data.users : [];
  return (
    <datalist id={id}>
      {users
        .filter((user) => !user.disabled && !except.includes(user.name))
        .map((user) => (
          <option key={user.id} value={user.name}>
            {user.role}
          </option>
        ))}
    </datalist>
  );
}
