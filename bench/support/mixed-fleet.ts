/**
 * The real targets of the mixed rotation benchmark, one per platform, each on loopback and thrown
 * away afterwards: a PostgreSQL cluster, a private MariaDB server, an OpenLDAP server and an sshd
 * whose Linux users exist only for the run. Each fleet knows its accounts and their passwords,
 * holds a reconcile account, and removes everything it created when closed.
 */
import { randomBytes } from 'node:crypto';

export const PLATFORMS = ['postgresql', 'mariadb', 'linux', 'ldap'] as const;
export type Platform = (typeof PLATFORMS)[number];

/** One managed account on a target; `password` follows every rotation, bare or Tessera's. */
export interface BenchAccount {
  readonly username: string;
  password: string;
}

/** A target as `POST /v1/targets` takes it. */
export interface TargetSpec {
  readonly name: string;
  readonly platform: Platform;
  readonly host: string;
  readonly port: number;
  readonly database?: string;
  readonly options?: Readonly<Record<string, unknown>>;
}

export interface Fleet {
  readonly platform: Platform;
  readonly target: TargetSpec;
  /** The privileged login that sets every account's password (`via: reconcile`). */
  readonly reconcile: { readonly username: string; readonly password: string };
  /** Every account created so far, in creation order. */
  readonly accounts: BenchAccount[];
  /** Creates accounts until there are `count`. */
  grow(count: number): Promise<void>;
  /** Removes every account, role, user or entry created, and stops the server. */
  close(): Promise<void>;
}

/** A password for setting accounts up: letters and digits, nothing any setup path must escape. */
export function setupPassword(): string {
  return `Ini${randomBytes(15).toString('hex')}9aZ`;
}

/** A short tag that keeps this run's names apart from any other's. */
export function runTag(): string {
  return randomBytes(3).toString('hex');
}
