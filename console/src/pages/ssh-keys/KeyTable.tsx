import type { SshKey } from '../../api-types.ts';
import { formatTime } from '../../format.ts';

/**
 * The user's registered keys as the API lists them, oldest first, each with a button to remove
 * it. The fingerprint names a key: it is what `ssh-keygen -l` prints for the same key.
 */
export function KeyTable({
  keys,
  onRemove,
}: {
  readonly keys: readonly SshKey[];
  readonly onRemove: (key: SshKey) => void;
}) {
  return (
    <table className="card-table">
      <caption className="visually-hidden">Your SSH keys</caption>
      <thead>
        <tr>
          <th scope="col">Fingerprint</th>
          <th scope="col">Type</th>
          <th scope="col">Comment</th>
          <th scope="col">Added</th>
          <th scope="col">Last used</th>
          <th scope="col">
            <span className="visually-hidden">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {keys.map((key) => (
          <tr key={key.id} data-key={key.fingerprint}>
            <th scope="row" className="sk-mono">
              {key.fingerprint}
            </th>
            <td data-label="Type" className="sk-mono">
              {key.type}
            </td>
            <td data-label="Comment">
              {key.comment === '' ? <span className="sk-muted">none</span> : key.comment}
            </td>
            <td data-label="Added">{formatTime(key.createdAt)}</td>
            <td data-label="Last used">
              {key.lastUsedAt === null ? (
                <span className="sk-muted">never</span>
              ) : (
                formatTime(key.lastUsedAt)
              )}
            </td>
            <td className="sk-actions">
              <button type="button" className="button-secondary" onClick={() => onRemove(key)}>
                Remove<span className="visually-hidden"> key {key.fingerprint}</span>
              </button>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
