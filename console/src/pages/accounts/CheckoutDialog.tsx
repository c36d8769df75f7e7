import { useId, useState } from 'react';
import { formatDuration, formatTime } from '../../format.ts';
import { useApi } from '../../session.tsx';
import { accountApi } from './paths.ts';
import { SecretDialog } from './SecretDialog.tsx';
import type { AccountView, CheckoutReply } from './types.ts';

const MINUTE_S = 60;
const CHOICES_S = [15, 30, 60, 120, 240, 480, 1440].map((m) => m * MINUTE_S);
const PREFERRED_S = 60 * MINUTE_S;

/**
 * Check-out: a reason and a duration, then the current value, shown as a reveal shows it. The
 * durations offered stop at the rotation policy's longest check-out, which the server also
 * enforces.
 */
export function CheckoutDialog({
  account,
  maxCheckoutS,
  onClose,
  onCheckedOut,
}: {
  readonly account: AccountView;
  /** The rotation policy's limit; null while it is unknown (the server caps it anyway). */
  readonly maxCheckoutS: number | null;
  readonly onClose: () => void;
  readonly onCheckedOut: () => void;
}) {
  const api = useApi();
  const choices = durationChoices(maxCheckoutS);
  const [durationS, setDurationS] = useState(
    choices.includes(PREFERRED_S) ? PREFERRED_S : (choices.at(-1) ?? PREFERRED_S),
  );
  const durationId = useId();

  const send = async (reason: string) => {
    const reply = await api.send<CheckoutReply>('POST', accountApi(account, '/checkout'), {
      reason,
      durationS,
    });
    onCheckedOut();
    const note = reply.exclusive ? (
      <>
        <strong>Checked out</strong> until {formatTime(reply.expiresAt)}: nobody else can check it
        out meanwhile. Check it in when you are done.
      </>
    ) : (
      <>
        <strong>Checked out</strong> until {formatTime(reply.expiresAt)}, shared: this policy lets
        others check it out at the same time.
      </>
    );
    return { secret: { value: reply.value, version: reply.version }, note };
  };

  return (
    <SecretDialog
      title={`Check out ${account.ref}`}
      doing="check out this account"
      accountRef={account.ref}
      submitLabel="Check out"
      send={send}
      onClose={onClose}
      fields={
        <>
          <label htmlFor={durationId}>For how long</label>
          <select
            id={durationId}
            value={durationS}
            onChange={(event) => setDurationS(Number(event.target.value))}
          >
            {choices.map((s) => (
              <option key={s} value={s}>
                {formatDuration(s)}
              </option>
            ))}
          </select>
        </>
      }
    />
  );
}

function durationChoices(maxS: number | null): number[] {
  if (maxS === null) return CHOICES_S;
  const within = CHOICES_S.filter((s) => s < maxS);
  return [...within, maxS];
}
