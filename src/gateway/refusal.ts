/**
 * Why the gateway refused or ended a session. `why` is the stable code for the audit trail; the
 * message is what the user reads on their terminal, and never confirms that an account or
 * target exists to someone who may not use it.
 */
export type RefusalWhy =
  | 'not-allowed'
  | 'not-ssh-target'
  | 'host-key-missing'
  | 'host-key-changed'
  | 'target-unreachable'
  | 'target-auth-failed'
  | 'target-channel-failed'
  | 'vault-sealed'
  | 'no-secret'
  | 'recording-unavailable'
  | 'sftp-not-allowed'
  | 'checked-out'
  | 'rotation-pending'
  | 'approval-required'
  | 'outside-window'
  | 'check-failed'
  | 'audit-unavailable';

const MESSAGES: Record<RefusalWhy, string> = {
  // One message for an unknown account or target and for one the user may not use.
  'not-allowed': 'no such account, or you may not connect to it',
  'not-ssh-target': 'this account is not on a target reached over SSH',
  'host-key-missing': 'no host key is pinned for this target; ask an administrator to pin one',
  'host-key-changed':
    'target host key changed: the target presented a host key other than the one pinned for ' +
    'it, so the session is refused; ask an administrator to check the target',
  'target-unreachable': 'the target cannot be reached',
  'target-auth-failed': 'the target refused the stored credential',
  'target-channel-failed': 'the target refused to open the session',
  'vault-sealed': 'the vault is sealed; try again once it is unsealed',
  'no-secret': 'the account has no usable credential',
  'recording-unavailable':
    'the session cannot be recorded, and recording is required for this account: refused',
  'sftp-not-allowed': 'file transfer is not allowed for this account',
  // Told only to someone who may use the account: the permission is checked first.
  'checked-out': 'the account is checked out by another user; try again once it is checked in',
  'rotation-pending':
    'the account waits for a verified rotation after its last check-in; try again later',
  'approval-required':
    'this account needs an approved access request: ask with "tessera request create --account ' +
    'TARGET/ACCOUNT"',
  'outside-window': 'this account cannot be used at this hour (its access window is closed)',
  'check-failed': 'your access could not be checked just now; try again',
  'audit-unavailable': 'the audit trail cannot be written, so no session can start',
};

/** Technical failures are `failure` in the audit trail; policy verdicts are `denied`. */
const DENIALS: readonly RefusalWhy[] = [
  'not-allowed',
  'sftp-not-allowed',
  'host-key-changed',
  'checked-out',
  'rotation-pending',
  'approval-required',
  'outside-window',
];

export class GatewayRefusal extends Error {
  readonly why: RefusalWhy;
  /** More for the audit trail and the log (never for the user, never a secret). */
  readonly detail: string | null;

  constructor(why: RefusalWhy, detail: string | null = null) {
    super(MESSAGES[why]);
    this.name = 'GatewayRefusal';
    this.why = why;
    this.detail = detail;
  }

  get outcome(): 'denied' | 'failure' {
    return DENIALS.includes(this.why) ? 'denied' : 'failure';
  }

  /** The line the user's terminal shows. */
  get userMessage(): string {
    return `tessera: ${this.message}\r\n`;
  }
}
