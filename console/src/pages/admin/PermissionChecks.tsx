import { SAFE_PERMISSIONS, type SafePermission } from './types.ts';

/** What each permission lets a member do, as the access rules (src/access/rules.ts) say. */
const MEANING: Readonly<Record<SafePermission, string>> = {
  list: 'see the accounts',
  use: 'connect without seeing the secret',
  retrieve: 'reveal the secret',
  checkout: 'check accounts out',
  manage: 'onboard, rotate, manage members',
  approve: "answer others' access requests",
};

/** The six safe permissions as labelled checkboxes, in a fieldset named by `legend`. */
export function PermissionChecks({
  idPrefix,
  legend,
  value,
  onChange,
}: {
  readonly idPrefix: string;
  readonly legend: string;
  readonly value: ReadonlySet<SafePermission>;
  readonly onChange: (next: ReadonlySet<SafePermission>) => void;
}) {
  const toggle = (permission: SafePermission, on: boolean) => {
    const next = new Set(value);
    if (on) next.add(permission);
    else next.delete(permission);
    onChange(next);
  };
  return (
    <fieldset>
      <legend>{legend}</legend>
      <div className="checks">
        {SAFE_PERMISSIONS.map((permission) => {
          const id = `${idPrefix}-${permission}`;
          return (
            <div className="check" key={permission}>
              <input
                id={id}
                type="checkbox"
                checked={value.has(permission)}
                onChange={(e) => toggle(permission, e.target.checked)}
              />
              <label htmlFor={id}>
                <strong>{permission}</strong> <span className="hint">{MEANING[permission]}</span>
              </label>
            </div>
          );
        })}
      </div>
    </fieldset>
  );
}

/** The permissions in the API's order, for a request body. */
export function orderedPermissions(set: ReadonlySet<SafePermission>): SafePermission[] {
  return SAFE_PERMISSIONS.filter((permission) => set.has(permission));
}
