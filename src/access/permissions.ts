export const SAFE_PERMISSIONS = ['list', 'use', 'retrieve', 'checkout', 'manage'] as const;
export type SafePermission = (typeof SAFE_PERMISSIONS)[number];

export function isSafePermission(value: string): value is SafePermission {
  return (SAFE_PERMISSIONS as readonly string[]).includes(value);
}

export function parsePermissions(stored: string): SafePermission[] {
  return stored.split(',').filter(isSafePermission);
}
