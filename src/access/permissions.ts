/**
 * What a safe member may do there. `approve` answers other people's access requests for the
 * safe's accounts; it opens nothing by itself.
 */
export const SAFE_PERMISSIONS = [
  'list',
  'use',
  'retrieve',
  'checkout',
  'manage',
  'approve',
] as const;
export type SafePermission = (typeof SAFE_PERMISSIONS)[number];

export function isSafePermission(value: string): value is SafePermission {
  return (SAFE_PERMISSIONS as readonly string[]).includes(value);
}

export function parsePermissions(stored: string): SafePermission[] {
  return stored.split(',').filter(isSafePermission);
}

/** The permissions an access policy can put behind an approval, and a grant can carry. */
export const GRANTABLE_PERMISSIONS = ['use', 'retrieve', 'checkout'] as const;
export type GrantablePermission = (typeof GRANTABLE_PERMISSIONS)[number];

export function isGrantablePermission(value: string): value is GrantablePermission {
  return (GRANTABLE_PERMISSIONS as readonly string[]).includes(value);
}
