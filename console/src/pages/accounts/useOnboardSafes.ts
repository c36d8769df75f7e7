import { useEffect, useState } from 'react';
import { useApi, useUser } from '../../session.tsx';
import type { Safe, SafeDetail } from './types.ts';

export type OnboardSafes =
  | { readonly status: 'loading' }
  | { readonly status: 'error'; readonly error: unknown }
  | { readonly status: 'ready'; readonly safes: readonly Safe[] };

/**
 * The safes the user may onboard accounts into: every safe for an admin, those they manage for
 * a user, none for an auditor (rules.ts: account.create). A user's safes are only those they
 * are a member of, so reading each one's members stays a short list of calls.
 */
export function useOnboardSafes(): OnboardSafes {
  const api = useApi();
  const user = useUser();
  const [state, setState] = useState<OnboardSafes>({ status: 'loading' });

  useEffect(() => {
    if (user.role === 'auditor') {
      setState({ status: 'ready', safes: [] });
      return;
    }
    const controller = new AbortController();
    const { signal } = controller;
    const load = async (): Promise<Safe[]> => {
      const { safes } = await api.get<{ safes: Safe[] }>('/v1/safes', { signal });
      if (user.role === 'admin') return safes;
      const details = await Promise.all(
        safes.map((s) =>
          api.get<SafeDetail>(`/v1/safes/${encodeURIComponent(s.name)}`, { signal }),
        ),
      );
      return details.filter((d) =>
        d.members.some((m) => m.user === user.name && m.permissions.includes('manage')),
      );
    };
    load().then(
      (safes) => setState({ status: 'ready', safes }),
      (error: unknown) => {
        if (!signal.aborted) setState({ status: 'error', error });
      },
    );
    return () => controller.abort();
  }, [api, user]);

  return state;
}
