import { createHash, createPublicKey, randomUUID } from 'node:crypto';
import ssh2 from 'ssh2';
import type { AuditLog } from '../audit/audit-log.ts';
import type { RequestContext } from '../audit/event.ts';
import type { Clock } from '../clock.ts';
import { notFound, TesseraError } from '../errors.ts';
import { isRole, type Role } from '../identity/principal.ts';
import type { UserSshKeyTable } from '../store/schema.ts';
import type { Store } from '../store/store.ts';
import type { Keyring } from '../vault/keyring.ts';
import { createKeyProofs, type KeyChallenge, type KeyProof } from './key-proof.ts';

const { utils } = ssh2;

export interface SshKey {
  readonly id: string;
  readonly userId: string;
  readonly fingerprint: string;
  readonly type: string;
  readonly publicKey: string;
  readonly comment: string;
  readonly createdAt: number;
  readonly lastUsedAt: number | null;
}

/** Whose key it is: the owner of a registered key, as the gateway authenticates them. */
export interface KeyOwner {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
}

/**
 * How a key being added is vouched for. A user adding their own key signs a challenge with it
 * (the fields are optional so that a missing one is refused as KEY_PROOF_REQUIRED, not as bad
 * input); an administrator adding another user's key vouches by their word, as they cannot hold
 * that user's private key.
 */
export type KeyVouch =
  | { readonly by: 'signature'; readonly proof: Partial<KeyProof> }
  | { readonly by: 'admin' };

/**
 * Users' public keys for the SSH gateway. A key belongs to one user only, so a login by key
 * names exactly one person; and a user registers a key only by proving they hold it, so no one
 * can claim another person's key.
 */
export interface SshKeyService {
  /** A challenge for `owner` to sign with the key of `line`; ALREADY_EXISTS if it is taken. */
  challenge(owner: { id: string }, line: string): Promise<KeyChallenge>;
  /**
   * Registers the key once `vouch` holds; a refused proof is audited and registers nothing
   * (KEY_PROOF_REQUIRED, KEY_PROOF_INVALID, KEY_PROOF_EXPIRED).
   */
  add(
    ctx: RequestContext,
    owner: { id: string; name: string },
    line: string,
    vouch: KeyVouch,
  ): Promise<SshKey>;
  list(userId: string): Promise<SshKey[]>;
  remove(ctx: RequestContext, owner: { id: string; name: string }, keyId: string): Promise<void>;
  /** The enabled user holding this key (the SSH wire form of the public key), or null. */
  ownerOf(keyBlob: Buffer): Promise<{ key: SshKey; owner: KeyOwner } | null>;
  /** Records a login with the key; a failure to record it never blocks the login. */
  touch(keyId: string): Promise<void>;
  /** Whether the user still holds the key of this fingerprint (a live connection's re-check). */
  holds(userId: string, fingerprint: string): Promise<boolean>;
  /** Calls `listener` once a key is removed, after the change is stored. */
  onRemoved(listener: (removed: { userId: string; fingerprint: string }) => void): void;
}

/** Key types the gateway accepts; DSA is refused as broken, RSA below 2048 bits as too short. */
const ACCEPTED_TYPES: readonly string[] = [
  'ssh-ed25519',
  'ssh-rsa',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
];
const MIN_RSA_BITS = 2048;
const MAX_RSA_BITS = 16_384;
export const MAX_KEYS_PER_USER = 50;
export const MAX_KEY_LINE = 16 * 1024;

/** OpenSSH's fingerprint: `SHA256:` and the unpadded base64 of the key blob's digest. */
export function fingerprintOf(keyBlob: Buffer): string {
  const digest = createHash('sha256').update(keyBlob).digest('base64');
  return `SHA256:${digest.replace(/=+$/, '')}`;
}

export function createSshKeyService(deps: {
  store: Store;
  audit: AuditLog;
  clock: Clock;
  keyring: Pick<Keyring, 'keys'>;
}): SshKeyService {
  const { store, audit, clock } = deps;
  const proofs = createKeyProofs(deps);
  const removedListeners: Array<(removed: { userId: string; fingerprint: string }) => void> = [];

  const keyEvent = (
    ctx: RequestContext,
    action: string,
    owner: { id: string; name: string },
    key: SshKey,
    proof?: KeyVouch['by'],
  ) => ({
    action,
    outcome: 'success' as const,
    actor: ctx.actor,
    object: { type: 'ssh-key', id: key.id, name: key.fingerprint },
    source: ctx.source,
    requestId: ctx.requestId,
    details: {
      user: owner.name,
      type: key.type,
      comment: key.comment,
      ...(proof === undefined ? {} : { proof }),
    },
  });

  /** Throws the vouch's refusal after auditing it; the signature itself is never recorded. */
  const requireVouch = async (
    ctx: RequestContext,
    owner: { id: string; name: string },
    key: { type: string; blob: Buffer },
    vouch: KeyVouch,
  ) => {
    try {
      checkVouch(ctx, owner, key.blob, vouch);
    } catch (error) {
      if (!(error instanceof TesseraError) || !error.code.startsWith('KEY_PROOF_')) throw error;
      await audit.record({
        action: 'sshkey.add',
        outcome: 'denied',
        actor: ctx.actor,
        object: { type: 'ssh-key', id: null, name: fingerprintOf(key.blob) },
        source: ctx.source,
        requestId: ctx.requestId,
        reason: error.code,
        details: { user: owner.name, type: key.type, proof: vouch.by },
      });
      throw error;
    }
  };

  const checkVouch = (
    ctx: RequestContext,
    owner: { id: string },
    keyBlob: Buffer,
    vouch: KeyVouch,
  ) => {
    if (vouch.by === 'admin') {
      // An administrator vouches for others only: their own keys take proof like anyone's.
      if (ctx.actor.id === owner.id) {
        throw proofRequired(
          "an administrator's own keys take proof too: add yours under /v1/users/me/ssh-keys " +
            '(tessera user key add without --user)',
        );
      }
      return;
    }
    const { challenge, signature } = vouch.proof;
    if (challenge === undefined || signature === undefined) {
      throw proofRequired(
        'sign a challenge from POST /v1/users/me/ssh-keys/challenge with the key ' +
          '(tessera user key add does)',
      );
    }
    proofs.check(owner.id, keyBlob, { challenge, signature });
  };

  return {
    async challenge(owner, line) {
      const parsed = parsePublicKeyLine(line);
      // Said before the user signs anything: a taken key could not be registered anyway.
      if (await taken(store.db, fingerprintOf(parsed.blob))) throw alreadyRegistered();
      return proofs.issue(owner.id, parsed.blob);
    },

    async add(ctx, owner, line, vouch) {
      const parsed = parsePublicKeyLine(line);
      await requireVouch(ctx, owner, parsed, vouch);
      const row: UserSshKeyTable = {
        id: randomUUID(),
        user_id: owner.id,
        fingerprint: fingerprintOf(parsed.blob),
        key_type: parsed.type,
        public_key: `${parsed.type} ${parsed.blob.toString('base64')}`,
        comment: parsed.comment,
        created_at: clock.now(),
        last_used_at: null,
      };
      const key = toKey(row);
      await store.transaction(async (trx) => {
        if (await taken(trx, row.fingerprint)) throw alreadyRegistered();
        const count = await trx
          .selectFrom('user_ssh_keys')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('user_id', '=', owner.id)
          .executeTakeFirstOrThrow();
        if (Number(count.n) >= MAX_KEYS_PER_USER) {
          throw new TesseraError('CONFLICT', `at most ${MAX_KEYS_PER_USER} keys per user`);
        }
        await trx.insertInto('user_ssh_keys').values(row).execute();
        await audit.appendInTx(trx, [keyEvent(ctx, 'sshkey.add', owner, key, vouch.by)]);
      });
      await store.durable();
      return key;
    },

    async list(userId) {
      const rows = await store.db
        .selectFrom('user_ssh_keys')
        .selectAll()
        .where('user_id', '=', userId)
        .orderBy('created_at')
        .execute();
      return rows.map(toKey);
    },

    async remove(ctx, owner, keyId) {
      const removed = await store.transaction(async (trx) => {
        const row = await trx
          .selectFrom('user_ssh_keys')
          .selectAll()
          .where('id', '=', keyId)
          .where('user_id', '=', owner.id)
          .executeTakeFirst();
        if (row === undefined) throw notFound('ssh key');
        await trx.deleteFrom('user_ssh_keys').where('id', '=', keyId).execute();
        await audit.appendInTx(trx, [keyEvent(ctx, 'sshkey.remove', owner, toKey(row))]);
        return row;
      });
      await store.durable();
      for (const listener of removedListeners) {
        listener({ userId: removed.user_id, fingerprint: removed.fingerprint });
      }
    },

    async ownerOf(keyBlob) {
      const row = await store.db
        .selectFrom('user_ssh_keys')
        .innerJoin('users', 'users.id', 'user_ssh_keys.user_id')
        .selectAll('user_ssh_keys')
        .select(['users.name as owner_name', 'users.role as owner_role', 'users.disabled'])
        .where('user_ssh_keys.fingerprint', '=', fingerprintOf(keyBlob))
        .executeTakeFirst();
      if (row === undefined || row.disabled !== 0 || !isRole(row.owner_role)) return null;
      // The digest matched; the bytes are compared too, so only this very key is accepted.
      const stored = Buffer.from(row.public_key.split(' ')[1] ?? '', 'base64');
      if (!stored.equals(keyBlob)) return null;
      return {
        key: toKey(row),
        owner: { id: row.user_id, name: row.owner_name, role: row.owner_role },
      };
    },

    async touch(keyId) {
      await store.db
        .updateTable('user_ssh_keys')
        .set({ last_used_at: clock.now() })
        .where('id', '=', keyId)
        .execute();
    },

    async holds(userId, fingerprint) {
      const row = await store.db
        .selectFrom('user_ssh_keys')
        .select('id')
        .where('user_id', '=', userId)
        .where('fingerprint', '=', fingerprint)
        .executeTakeFirst();
      return row !== undefined;
    },

    onRemoved(listener) {
      removedListeners.push(listener);
    },
  };
}

/** Reads `TYPE BASE64 [COMMENT]`, refusing private keys, weak types and anything malformed. */
export function parsePublicKeyLine(line: string): { type: string; blob: Buffer; comment: string } {
  const trimmed = line.trim();
  // Two keys pasted at once would otherwise register the first, the second as its comment:
  // every line break Unicode knows is refused.
  if (/[\n\v\f\r\u0085\u2028\u2029]/.test(trimmed)) {
    throw new TesseraError('VALIDATION_FAILED', 'one public key line at a time');
  }
  const [type = '', base64 = '', ...rest] = trimmed.split(/[ \t]+/);
  const comment = rest.join(' ').slice(0, 200);
  if (!ACCEPTED_TYPES.includes(type) || !/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) {
    throw new TesseraError(
      'VALIDATION_FAILED',
      `a public key line: ${ACCEPTED_TYPES.join(', ')} followed by its base64`,
    );
  }
  const parsed = utils.parseKey(`${type} ${base64}`);
  if (parsed instanceof Error || parsed.isPrivateKey() || parsed.type !== type) {
    throw new TesseraError('VALIDATION_FAILED', 'the public key does not parse');
  }
  if (type === 'ssh-rsa') checkRsaKey(parsed.getPublicPEM());
  if (type === 'ssh-ed25519' && hasSmallOrder(parsed.getPublicSSH().subarray(-32))) {
    throw new TesseraError('VALIDATION_FAILED', 'this Ed25519 key is one anyone can sign for');
  }
  return {
    type,
    blob: parsed.getPublicSSH(),
    comment: /^[\x20-\x7e]*$/.test(comment) ? comment : '',
  };
}

/**
 * RSA keys of a useful size and a sound exponent. With e = 1 or an even e, signing needs no
 * private key (or no single one), so wherever such a key is accepted its signatures prove nothing
 * about who used it. Above 16,384 bits (OpenSSH's own limit) a key only makes each check slow.
 */
function checkRsaKey(pem: string): void {
  let bits: number;
  let exponent: bigint;
  try {
    const key = createPublicKey(pem);
    bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    exponent = BigInt(key.asymmetricKeyDetails?.publicExponent ?? 0);
  } catch {
    throw new TesseraError('VALIDATION_FAILED', 'the public key does not parse');
  }
  if (bits < MIN_RSA_BITS || bits > MAX_RSA_BITS) {
    throw new TesseraError(
      'VALIDATION_FAILED',
      `RSA keys need ${MIN_RSA_BITS} to ${MAX_RSA_BITS} bits`,
    );
  }
  if (exponent < 3n || exponent % 2n === 0n) {
    throw new TesseraError('VALIDATION_FAILED', 'this RSA key has an unsafe public exponent');
  }
}

const ED25519_P = 2n ** 255n - 19n;
/** y of a point of order 8; p - y is the other. */
const ED25519_ORDER_8_Y =
  2707385501144840649318225287225658788936804267575313519463743609750303402022n;
/**
 * The y coordinates of the Ed25519 points of order 1, 2, 4 and 8: no one's key. A verifier that
 * takes them (OpenSSL refuses the simplest forgery, not every verifier does) accepts signatures
 * made without a private key.
 */
const SMALL_ORDER_Y: readonly bigint[] = [
  0n,
  1n,
  ED25519_P - 1n,
  ED25519_ORDER_8_Y,
  ED25519_P - ED25519_ORDER_8_Y,
];

/** Whether a 32-byte Ed25519 public key is a small-order point, in any of its encodings. */
export function hasSmallOrder(encoded: Buffer): boolean {
  const littleEndian = Buffer.from(encoded).reverse().toString('hex');
  let y = BigInt(`0x${littleEndian}`) & ((1n << 255n) - 1n); // the top bit is x's sign
  if (y >= ED25519_P) y -= ED25519_P; // a y past p is another spelling of y - p
  return SMALL_ORDER_Y.includes(y);
}

async function taken(db: Store['db'], fingerprint: string): Promise<boolean> {
  const row = await db
    .selectFrom('user_ssh_keys')
    .select('user_id')
    .where('fingerprint', '=', fingerprint)
    .executeTakeFirst();
  return row !== undefined;
}

function proofRequired(how: string): TesseraError {
  return new TesseraError('KEY_PROOF_REQUIRED', `prove you hold the key: ${how}`);
}

function alreadyRegistered(): TesseraError {
  return new TesseraError('ALREADY_EXISTS', 'this key is already registered');
}

function toKey(row: UserSshKeyTable): SshKey {
  return {
    id: row.id,
    userId: row.user_id,
    fingerprint: row.fingerprint,
    type: row.key_type,
    publicKey: row.public_key,
    comment: row.comment,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
  };
}
