import { useState } from 'react';
import type { SshKey } from '../api-types.ts';
import { EmptyState } from '../components/EmptyState.tsx';
import { ErrorNotice } from '../components/ErrorNotice.tsx';
import { Loading } from '../components/Loading.tsx';
import { usePageTitle } from '../usePageTitle.ts';
import { useFetched } from './accounts/useFetched.ts';
import { focusOnMount } from './requests/focusOnMount.ts';
import { AddKeyForm } from './ssh-keys/AddKeyForm.tsx';
import { KeyTable } from './ssh-keys/KeyTable.tsx';
import { RemoveKeyDialog } from './ssh-keys/RemoveKeyDialog.tsx';
import './ssh-keys/ssh-keys.css';

/** What was just done, said where the reader's focus goes; `seq` makes each one new. */
interface Notice {
  readonly seq: number;
  readonly text: string;
}

/**
 * The signed-in user's own public keys for the SSH gateway, whatever their role: the list with
 * a way to remove each, and adding one with proof of its private key (src/gateway/key-proof.ts).
 * The list stays on screen while it is read again after a change.
 */
export function SshKeys() {
  usePageTitle('SSH keys');
  const keys = useFetched<{ keys: SshKey[] }>('/v1/users/me/ssh-keys');
  const [removing, setRemoving] = useState<SshKey | null>(null);
  const [notice, setNotice] = useState<Notice | null>(null);
  const say = (text: string) => setNotice((old) => ({ seq: (old?.seq ?? 0) + 1, text }));

  const onAdded = (key: SshKey) => {
    say(
      `Added ${key.type} key ${key.fingerprint}. You can now sign in to the SSH gateway with it.`,
    );
    keys.refresh();
  };

  const onRemoved = (key: SshKey, alreadyGone: boolean) => {
    setRemoving(null);
    say(
      alreadyGone
        ? `Key ${key.fingerprint} was already removed elsewhere.`
        : `Removed key ${key.fingerprint}. The SSH gateway no longer accepts it.`,
    );
    keys.refresh();
  };

  return (
    <div className="sk-page">
      <h1 tabIndex={-1}>SSH keys</h1>
      <p className="sk-intro">
        The SSH gateway knows you by these public keys: <code>ssh ACCOUNT@TARGET@GATEWAY</code> with
        one of their private keys signs you in as yourself. You add a key by proving that you hold
        its private key, which never leaves your computer.
      </p>
      {notice !== null && (
        <p
          key={notice.seq}
          className="notice sk-notice"
          role="status"
          tabIndex={-1}
          ref={focusOnMount}
        >
          {notice.text}
        </p>
      )}

      <section aria-labelledby="sk-mine">
        <h2 id="sk-mine">Your keys</h2>
        {keys.status === 'loading' && <Loading what="your SSH keys" />}
        {keys.status === 'error' && (
          <ErrorNotice doing="load your SSH keys" error={keys.error} retry={keys.refresh} />
        )}
        {keys.status === 'ready' &&
          (keys.data.keys.length === 0 ? (
            <EmptyState>
              You have no SSH keys yet. Add one below to connect through the SSH gateway.
            </EmptyState>
          ) : (
            <KeyTable keys={keys.data.keys} onRemove={setRemoving} />
          ))}
      </section>

      <section aria-labelledby="sk-new">
        <h2 id="sk-new">Add a key</h2>
        <AddKeyForm onAdded={onAdded} />
      </section>

      {removing !== null && (
        <RemoveKeyDialog
          sshKey={removing}
          onClose={() => setRemoving(null)}
          onRemoved={(alreadyGone) => onRemoved(removing, alreadyGone)}
        />
      )}
    </div>
  );
}
