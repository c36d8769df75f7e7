export const ROLES = ['admin', 'auditor', 'user'] as const;
export type Role = (typeof ROLES)[number];

/** The authenticated caller of a request. */
export interface Principal {
  readonly userId: string;
  readonly name: string;
  readonly role: Role;
  readonly tokenId: string;
}

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}
