import { useState } from 'react';
import type { SshKeyChallenge } from '../../api-types.ts';
import { formatTime, timeLeft } from '../../format.ts';
import { useNow } from '../../useNow.ts';
import { defaultKeyFile, type KeyLine, signCommand } from './signCommand.ts';

/** Often enough that "under a minute" and "expired" show soon after they become true. */
const CLOCK_EVERY_MS = 5_000;

/**
 * Step 2: the command that signs the server's challenge with the key's private half, to copy
 * into a terminal, and until when the challenge holds. The private key never comes near the
 * page: ssh-keygen reads it on the user's computer and prints only the signature.
 */
export function SignCommand({
  issued,
  keyLine,
}: {
  readonly issued: SshKeyChallenge;
  readonly keyLine: KeyLine;
}) {
  const now = useNow(CLOCK_EVERY_MS);
  const [copy, setCopy] = useState<'idle' | 'copied' | 'failed'>('idle');
  const keyFile = defaultKeyFile(keyLine.type);
  const command = signCommand(issued.challenge, issued.namespace, keyFile);
  const expired = Date.parse(issued.expiresAt) <= now;

  const onCopy = () => {
    // The clipboard API exists on secure origins only (HTTPS, or localhost).
    const clipboard = navigator.clipboard as Clipboard | undefined;
    if (clipboard === undefined) {
      setCopy('failed');
      return;
    }
    clipboard.writeText(command).then(
      () => setCopy('copied'),
      () => setCopy('failed'),
    );
  };

  return (
    <>
      <p>
        Run this in a terminal on the computer that holds the private key. ssh-keygen may ask for
        the key’s passphrase, then prints a signature.
      </p>
      <pre className="sk-command" data-testid="sign-command">
        <code>{command}</code>
      </pre>
      <div className="sk-buttons">
        <button type="button" className="button-secondary" onClick={onCopy}>
          Copy command
        </button>
        <span className="hint" role="status">
          {copy === 'copied' && 'Copied.'}
          {copy === 'failed' && 'This browser did not allow copying: select the command instead.'}
        </span>
      </div>
      <p className="hint">
        It signs with <code>{keyFile}</code>, where ssh-keygen keeps a {keyLine.type} key unless
        told otherwise: if your private key is elsewhere, change the path after <code>-f</code>. A
        key kept only in ssh-agent signs when <code>-f</code> names its <code>.pub</code> file.
      </p>
      <p className={expired ? 'sk-expiry sk-expired' : 'sk-expiry'} data-testid="challenge-expiry">
        {expired ? (
          <>
            This challenge expired at {formatTime(issued.expiresAt)}. Get a new one below, then run
            the new command.
          </>
        ) : (
          <>
            The challenge holds until <strong>{formatTime(issued.expiresAt)}</strong> (
            {timeLeft(issued.expiresAt, now)} left) and serves once.
          </>
        )}
      </p>
      <details className="sk-details">
        <summary>Signing some other way</summary>
        <p>
          Sign exactly this text, with no newline after it, in the SSH signature namespace{' '}
          <code>{issued.namespace}</code>:
        </p>
        <pre className="sk-command">
          <code>{issued.challenge}</code>
        </pre>
      </details>
    </>
  );
}
