import {
  createContext,
  type ReactNode,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
} from 'react';
import { type Api, ApiError, createApi } from './api.ts';
import type { Role, SessionReply } from './api-types.ts';

export interface SignedInUser {
  readonly name: string;
  readonly role: Role;
}

export type SessionState =
  | { readonly status: 'loading' }
  | { readonly status: 'signed-out'; readonly notice: string | null }
  | {
      readonly status: 'signed-in';
      readonly user: SignedInUser;
      readonly expiresAt: number | null;
    };

export interface Session {
  readonly state: SessionState;
  readonly api: Api;
  /** `code` is sent only once the server asked for one (MFA_REQUIRED): a second factor's. */
  signIn(user: string, password: string, code?: string): Promise<void>;
  signOut(): Promise<void>;
}

const SessionContext = createContext<Session | null>(null);

export const EXPIRED_NOTICE = 'Your session has ended. Sign in again to continue.';
/** setTimeout's longest delay; a longer session ends through the API's 401 instead. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * Who is signed in. The cookie is HttpOnly, so the page asks the server (GET /v1/auth/session)
 * when it loads; the reply's CSRF token goes to the API client and nowhere else. When the
 * session ends (its time is up, or any call answers 401), the page returns to the sign-in form
 * with a notice saying so.
 */
export function SessionProvider({ children }: { readonly children: ReactNode }) {
  const [state, setState] = useState<SessionState>({ status: 'loading' });
  const signedIn = useRef(false);

  const end = useCallback((notice: string | null) => {
    signedIn.current = false;
    setState({ status: 'signed-out', notice });
  }, []);

  const api = useMemo(
    () =>
      createApi({
        // A 401 before anyone signed in (the first check, a wrong password) is no news.
        onUnauthenticated: () => {
          if (signedIn.current) end(EXPIRED_NOTICE);
        },
      }),
    [end],
  );

  const begin = useCallback(
    (reply: SessionReply) => {
      api.setCsrfToken(reply.csrfToken);
      signedIn.current = true;
      const expiresAt = reply.expiresAt === null ? null : Date.parse(reply.expiresAt);
      setState({ status: 'signed-in', user: reply.user, expiresAt });
    },
    [api],
  );

  useEffect(() => {
    const controller = new AbortController();
    api
      .get<SessionReply>('/v1/auth/session', { signal: controller.signal })
      .then(begin)
      .catch((error: unknown) => {
        if (controller.signal.aborted) return;
        // Not signed in is the usual answer; anything else is said on the sign-in page.
        const unauthenticated = error instanceof ApiError && error.status === 401;
        end(unauthenticated ? null : messageOf(error));
      });
    return () => controller.abort();
  }, [api, begin, end]);

  const expiresAt = state.status === 'signed-in' ? state.expiresAt : null;
  useEffect(() => {
    if (expiresAt === null || expiresAt - Date.now() > MAX_TIMER_MS) return;
    const expire = () => {
      api.setCsrfToken(null);
      end(EXPIRED_NOTICE);
    };
    const timer = window.setTimeout(expire, Math.max(0, expiresAt - Date.now()));
    return () => window.clearTimeout(timer);
  }, [expiresAt, api, end]);

  const signIn = useCallback(
    async (user: string, password: string, code?: string) => {
      const body = { user, password, ...(code === undefined ? {} : { code }) };
      begin(await api.send<SessionReply>('POST', '/v1/auth/session', body));
    },
    [api, begin],
  );

  // Signed out only once the server has revoked the token: a page that said so while the
  // cookie still worked would mislead whoever uses this browser next.
  const signOut = useCallback(async () => {
    try {
      await api.send('DELETE', '/v1/auth/session');
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 401)) throw error;
    }
    api.setCsrfToken(null);
    end('You have signed out.');
  }, [api, end]);

  const value = useMemo(() => ({ state, api, signIn, signOut }), [state, api, signIn, signOut]);
  return <SessionContext value={value}>{children}</SessionContext>;
}

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (session === null) throw new Error('useSession outside SessionProvider');
  return session;
}

/** The signed-in user; only for screens behind RequireSession. */
export function useUser(): SignedInUser {
  const { state } = useSession();
  if (state.status !== 'signed-in') throw new Error('useUser without a signed-in user');
  return state.user;
}

/** The API client of the current session. */
export function useApi(): Api {
  return useSession().api;
}

function messageOf(error: unknown): string {
  return error instanceof Error
    ? error.message
    : 'Something went wrong while checking your session.';
}
