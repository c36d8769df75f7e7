import type { ReactNode } from 'react';
import { PERMISSIONS, type Permission } from './types.ts';
import { PERMISSION_MEANING } from './words.ts';

/**
 * Which permissions are asked for, each with what it opens; those the policy keeps behind an
 * approval are marked, since asking for them is the point of the request.
 */
export function PermissionsField({
  value,
  needApproval,
  onChange,
  error,
}: {
  readonly value: readonly Permission[];
  /** The policy's `approvalFor`, once known. */
  readonly needApproval: readonly Permission[] | null;
  readonly onChange: (value: readonly Permission[]) => void;
  readonly error: ReactNode;
}) {
  const errorId = 'ask-permissions-error';
  const toggle = (permission: Permission, on: boolean) => {
    const next = new Set(value);
    if (on) next.add(permission);
    else next.delete(permission);
    onChange(PERMISSIONS.filter((p) => next.has(p)));
  };
  return (
    <fieldset className="rq-field" aria-describedby={error === null ? undefined : errorId}>
      <legend>Permissions</legend>
      <div className="rq-choices rq-choices-stacked">
        {PERMISSIONS.map((permission) => (
          <label key={permission} className="rq-choice">
            <input
              type="checkbox"
              id={`ask-perm-${permission}`}
              checked={value.includes(permission)}
              onChange={(event) => toggle(permission, event.target.checked)}
            />
            <span>
              <strong>{permission}</strong>: {PERMISSION_MEANING[permission]}
              {needApproval?.includes(permission) === true && (
                <span className="rq-tag">needs approval here</span>
              )}
            </span>
          </label>
        ))}
      </div>
      {error !== null && (
        <p id={errorId} className="rq-field-error">
          {error}
        </p>
      )}
    </fieldset>
  );
}
