import type { Logger } from 'pino';
import ssh2, { type AuthContext, type KeyboardAuthContext, type PublicKeyAuthContext } from 'ssh2';
import { isTesseraError } from '../errors.ts';
import type { MfaService } from '../identity/mfa.ts';
import type { Role } from '../identity/principal.ts';
import type { UserService } from '../identity/users.ts';
import type { ConsoleTickets } from './console-tickets.ts';
import type { SshKeyService } from './user-keys.ts';

const { utils } = ssh2;

/** The person behind a gateway connection, once authenticated. */
export interface GatewayUser {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  /**
   * How they proved it: `publickey` with the key's fingerprint, `password`, or `console`: a
   * one-time ticket the web console's terminal got for its signed-in user.
   */
  readonly method: 'publickey' | 'password' | 'console';
  /** For `console`: the login token of the browser session, re-checked while it runs. */
  readonly tokenId?: string | null;
  /** For `console`: the browser's address, as the HTTP request came. */
  readonly browserSource?: string | null;
  readonly keyFingerprint: string | null;
  /**
   * For `password`: whether a second factor's code was also given. A login made without one
   * (the user had no factor then) ends once they have one, as their other sign-ins do.
   */
  readonly codeVerified?: boolean;
  /** For `password`: the password's stamp at login; the connection ends once it changes. */
  readonly passwordStamp?: string;
}

export interface Authenticator {
  /** Handles one authentication request; `onUser` is told once a method succeeds. */
  handle(ctx: AuthContext): void;
  /** Attempts that proved nothing, a key nobody registered included. */
  readonly failures: number;
  /** Keys offered that nobody registered (clients offer each key they hold in turn). */
  readonly unknownKeys: number;
}

/** After this many failed attempts the connection is closed, as OpenSSH's MaxAuthTries does. */
export const MAX_AUTH_FAILURES = 6;
/**
 * Keys one connection may offer, known or not, signed or not: asking whether a key is known
 * costs a lookup and proves nothing, so it is counted too.
 */
export const MAX_KEY_OFFERS = 10;
const MAX_PROMPT_ANSWER = 1024;
/** TOTP codes are 6 to 8 digits (RFC 6238); anything else is refused before any lookup. */
const CODE_SHAPE = /^\d{6,8}$/;

/**
 * Users log in as themselves: with a public key they registered, or (when enabled) with their
 * Tessera user name and password through keyboard-interactive, which goes through the user
 * service and its throttle; a user with a second factor is then asked for its code, so a
 * password alone never opens the gateway to them. A failure never says whether the user, the
 * key, the account or the target exists.
 */
export function createAuthenticator(deps: {
  keys: Pick<SshKeyService, 'ownerOf' | 'touch'>;
  users: Pick<UserService, 'authenticate'>;
  /** A user's TOTP factor, asked for after their password where they have one. */
  mfa?: Pick<MfaService, 'hasFactor' | 'verify'>;
  passwordLogin: boolean;
  source: string | null;
  logger: Logger;
  onUser: (user: GatewayUser) => void;
  onTooManyFailures: () => void;
  /** The web console's one-time tickets; never offered as a method, only taken. */
  tickets?: Pick<ConsoleTickets, 'redeem'>;
}): Authenticator {
  const { keys, logger } = deps;
  const methods: Array<'publickey' | 'keyboard-interactive'> = deps.passwordLogin
    ? ['publickey', 'keyboard-interactive']
    : ['publickey'];
  let failures = 0;
  let unknownKeys = 0;
  let keyOffers = 0;
  // One password (or code) check at a time: a client may drop a keyboard-interactive exchange
  // and start another, and each answer would otherwise queue a hash nobody waits for.
  let checking = false;

  const refuse = (ctx: AuthContext, counts: boolean) => {
    if (counts) failures += 1;
    if (failures >= MAX_AUTH_FAILURES || keyOffers > MAX_KEY_OFFERS) {
      ctx.reject();
      deps.onTooManyFailures();
      return;
    }
    ctx.reject(methods);
  };

  const byKey = async (ctx: PublicKeyAuthContext) => {
    keyOffers += 1;
    if (keyOffers > MAX_KEY_OFFERS) return refuse(ctx, true);
    const found = await keys.ownerOf(ctx.key.data);
    // A key nobody registered is refused without saying more, and counts as a failed attempt,
    // as in OpenSSH: a client holding many keys should name the one to use (IdentitiesOnly).
    if (found === null) {
      unknownKeys += 1;
      return refuse(ctx, true);
    }
    if (ctx.signature === undefined || ctx.blob === undefined) return ctx.accept();
    const parsed = utils.parseKey(found.key.publicKey);
    const valid =
      !(parsed instanceof Error) && parsed.verify(ctx.blob, ctx.signature, ctx.hashAlgo);
    if (!valid) return refuse(ctx, true);
    void keys.touch(found.key.id).catch((error: unknown) => {
      logger.warn({ err: error }, 'could not record the use of an ssh key');
    });
    deps.onUser({ ...found.owner, method: 'publickey', keyFingerprint: found.key.fingerprint });
    ctx.accept();
  };

  const byPassword = (ctx: KeyboardAuthContext) => {
    const prompts = [
      { prompt: 'Tessera user: ', echo: true },
      { prompt: 'Tessera password: ', echo: false },
    ];
    ctx.prompt(prompts, 'Tessera', '', (answers: unknown) => {
      // ssh2 passes an Error when the client abandons the prompt: nothing to check or answer.
      if (!Array.isArray(answers)) return;
      if (checking) return refuse(ctx, true);
      const [name = '', password = ''] = answers as string[];
      if (!name || !password || name.length > 128 || password.length > MAX_PROMPT_ANSWER) {
        return refuse(ctx, true);
      }
      checking = true;
      checkPassword(ctx, name, password)
        .catch((error: unknown) => {
          logger.error({ err: error }, 'gateway password check failed');
          refuse(ctx, true);
        })
        .finally(() => {
          checking = false;
        });
    });
  };

  const checkPassword = async (ctx: KeyboardAuthContext, name: string, password: string) => {
    const request = { source: deps.source, requestId: null };
    let user: Pick<GatewayUser, 'id' | 'name' | 'role' | 'passwordStamp'>;
    try {
      // Throttled and audited by the user service, as a login to the API is.
      user = await deps.users.authenticate(request, name, password, 'ssh-gateway');
    } catch (error) {
      if (!isTesseraError(error)) throw error;
      return refuse(ctx, true);
    }
    const { mfa } = deps;
    if (mfa !== undefined && (await mfa.hasFactor(user.id))) return askCode(ctx, mfa, user);
    deps.onUser({ ...user, method: 'password', keyFingerprint: null });
    ctx.accept();
  };

  const askCode = (
    ctx: KeyboardAuthContext,
    mfa: Pick<MfaService, 'verify'>,
    user: Pick<GatewayUser, 'id' | 'name' | 'role' | 'passwordStamp'>,
  ) => {
    const prompts = [{ prompt: 'Tessera code (authenticator app): ', echo: false }];
    ctx.prompt(prompts, 'Tessera', '', (answers: unknown) => {
      if (!Array.isArray(answers)) return;
      if (checking) return refuse(ctx, true);
      const code = String(answers[0] ?? '').trim();
      if (!CODE_SHAPE.test(code)) return refuse(ctx, true);
      const request = { actor: { id: user.id, name: user.name }, source: deps.source };
      checking = true;
      // Throttled, used up once and audited (mfa.verify) by the factor's service.
      mfa
        .verify({ ...request, requestId: null }, user.id, code)
        .then(
          () => {
            deps.onUser({ ...user, method: 'password', keyFingerprint: null, codeVerified: true });
            ctx.accept();
          },
          (error: unknown) => {
            if (!isTesseraError(error)) logger.error({ err: error }, 'gateway code check failed');
            refuse(ctx, true);
          },
        )
        .finally(() => {
          checking = false;
        });
    });
  };

  return {
    get failures() {
      return failures;
    },
    get unknownKeys() {
      return unknownKeys;
    },
    handle(ctx) {
      if (ctx.method === 'publickey') {
        void byKey(ctx).catch((error: unknown) => {
          logger.error({ err: error }, 'gateway key check failed');
          refuse(ctx, true);
        });
        return;
      }
      if (ctx.method === 'keyboard-interactive' && deps.passwordLogin) return byPassword(ctx);
      if (ctx.method === 'password' && deps.tickets !== undefined) {
        const holder = deps.tickets.redeem(ctx.password, ctx.username);
        if (holder === null) return refuse(ctx, true);
        deps.onUser({
          id: holder.id,
          name: holder.name,
          role: holder.role,
          method: 'console',
          keyFingerprint: null,
          tokenId: holder.tokenId,
          browserSource: holder.source,
        });
        return ctx.accept();
      }
      // `none` and every other method only learn which methods there are.
      refuse(ctx, ctx.method !== 'none');
    },
  };
}
