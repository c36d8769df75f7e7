import { useUser } from '../../session.tsx';
import { type Capabilities, capabilitiesOf } from './capabilities.ts';
import type { AccessPolicy, AccountView, GrantView, SafeDetail } from './types.ts';
import { useFetched } from './useFetched.ts';

/**
 * The user's capabilities on an account, from their membership in its safe and their active
 * grants; null while those load. A safe the user may not read (a grant without membership)
 * counts as no membership: the grants still count.
 */
export function useCapabilities(
  account: AccountView,
  accessPolicy: AccessPolicy | null,
): Capabilities | null {
  const user = useUser();
  const safe = useFetched<SafeDetail>(`/v1/safes/${encodeURIComponent(account.safe)}`);
  const grants = useFetched<{ grants: GrantView[] }>(
    `/v1/grants?${new URLSearchParams({ active: 'true', user: user.name })}`,
  );
  if (safe.status === 'loading' || grants.status === 'loading') return null;

  const membership =
    safe.status === 'ready' ? safe.data.members.find((m) => m.user === user.name) : undefined;
  return capabilitiesOf({
    user,
    account,
    held: membership?.permissions ?? [],
    grants: grants.status === 'ready' ? grants.data.grants : [],
    accessPolicy,
  });
}
