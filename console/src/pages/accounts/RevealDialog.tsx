import { useApi } from '../../session.tsx';
import { accountApi } from './paths.ts';
import { SecretDialog } from './SecretDialog.tsx';
import type { AccountView, RevealedSecret } from './types.ts';

/** Reveal with a reason: the server audits the reveal before it answers with the value. */
export function RevealDialog({
  account,
  onClose,
}: {
  readonly account: AccountView;
  readonly onClose: () => void;
}) {
  const api = useApi();
  const send = async (reason: string) => {
    const secret = await api.send<RevealedSecret>('POST', accountApi(account, '/reveal'), {
      reason,
    });
    return {
      secret,
      note: (
        <>
          <strong>Revealed.</strong> Your reason is in the audit trail. The value is masked: show it
          or copy it.
        </>
      ),
    };
  };
  return (
    <SecretDialog
      title={`Reveal the secret of ${account.ref}`}
      doing="reveal this secret"
      accountRef={account.ref}
      submitLabel="Reveal"
      send={send}
      onClose={onClose}
    />
  );
}
