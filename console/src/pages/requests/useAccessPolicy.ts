import { useEffect, useState } from 'react';
import { useApi } from '../../session.tsx';
import type { AccessPolicy } from './types.ts';

/** What the form asks for: one account ("target/username") or one whole safe. */
export type Subject =
  | { readonly kind: 'account'; readonly ref: string }
  | { readonly kind: 'safe'; readonly name: string };

export type PolicyState =
  | { readonly status: 'none' }
  | { readonly status: 'loading' }
  | { readonly status: 'error'; readonly error: unknown }
  | { readonly status: 'ready'; readonly policy: AccessPolicy };

/** Typing an account name asks the server once the typing pauses, not at every key. */
const SETTLE_MS = 300;

/** Whether `ref` reads as TARGET/USERNAME, the form the server accepts. */
export function isAccountRef(ref: string): boolean {
  return /^[^/]+\/.+$/.test(ref);
}

/** The policy path of a subject, or null while it names nothing yet. */
export function policyPath(subject: Subject): string | null {
  if (subject.kind === 'safe') {
    return subject.name === ''
      ? null
      : `/v1/safes/${encodeURIComponent(subject.name)}/access-policy`;
  }
  const ref = subject.ref.trim();
  if (!isAccountRef(ref)) return null;
  const slash = ref.indexOf('/');
  const target = encodeURIComponent(ref.slice(0, slash));
  const username = encodeURIComponent(ref.slice(slash + 1));
  return `/v1/targets/${target}/accounts/${username}/access-policy`;
}

/**
 * The access policy in force for what the form names (the account's own, else its safe's, else
 * Tessera's default), so the form can say what a request needs before it is sent.
 */
export function useAccessPolicy(subject: Subject): PolicyState {
  const api = useApi();
  const path = policyPath(subject);
  const [state, setState] = useState<PolicyState>({ status: 'none' });

  useEffect(() => {
    if (path === null) {
      setState({ status: 'none' });
      return;
    }
    setState({ status: 'loading' });
    const controller = new AbortController();
    const timer = window.setTimeout(() => {
      api.get<AccessPolicy>(path, { signal: controller.signal }).then(
        (policy) => setState({ status: 'ready', policy }),
        (error: unknown) => {
          if (!controller.signal.aborted) setState({ status: 'error', error });
        },
      );
    }, SETTLE_MS);
    return () => {
      window.clearTimeout(timer);
      controller.abort();
    };
  }, [api, path]);

  return state;
}
