import type { AccountView } from './types.ts';

export type Tone = 'ok' | 'warn' | 'bad' | 'info' | 'neutral';

export interface StateSummary {
  readonly tone: Tone;
  /** Said in words: the colour only repeats it. */
  readonly label: string;
  /** Why, where a label alone would leave the reader guessing. */
  readonly detail: string | null;
}

/**
 * An account's rotation state as people ask about it: is the stored secret known to work, was
 * it rotated, is something wrong or under way. A running rotation outranks the stored state,
 * which it is about to change; a failure outranks a due date.
 */
export function rotationState(account: AccountView): StateSummary {
  if (account.rotating) {
    return { tone: 'info', label: 'Rotating', detail: 'a rotation is running now' };
  }
  switch (account.state) {
    case 'rotation_failed':
      return { tone: 'bad', label: 'Rotation failed', detail: account.lastRotationError };
    case 'verify_failed':
      return { tone: 'bad', label: 'Verify failed', detail: account.lastVerifyResult };
    case 'unverified':
      return {
        tone: 'neutral',
        label: 'Not verified',
        detail: 'Tessera has not yet logged in with the stored secret',
      };
    case 'ok':
      if (account.needsRotation) {
        return { tone: 'warn', label: 'Rotation pending', detail: 'the secret must be rotated' };
      }
      return account.lastRotatedAt === null
        ? { tone: 'ok', label: 'Verified', detail: null }
        : { tone: 'ok', label: 'Rotated and verified', detail: null };
    default:
      return { tone: 'neutral', label: account.state, detail: null };
  }
}

/** The last verification, in words: "valid", or what went wrong. */
export function verifySummary(account: AccountView): { tone: Tone; text: string } {
  const result = account.lastVerifyResult;
  if (result === null) return { tone: 'neutral', text: 'never verified' };
  return result === 'valid' ? { tone: 'ok', text: 'valid' } : { tone: 'bad', text: result };
}
