import { useRef, useState } from 'react';
import { useSearchParams } from 'react-router';
import { usePageTitle } from '../../usePageTitle.ts';
import { BrowserTerminal } from './BrowserTerminal.tsx';
import { ConnectForm } from './ConnectForm.tsx';
import { TerminalStatus } from './TerminalStatus.tsx';
import type { TerminalLink } from './terminalLink.ts';
import type { LinkState } from './types.ts';

/**
 * Connect in the browser: a terminal to `?account=` on `?target=` through Tessera's gateway,
 * as the signed-in user. The gateway decides, records and may end it, exactly as for ssh.
 * Without both names, the page asks for them.
 */
export function ConnectPage() {
  const [params] = useSearchParams();
  const target = params.get('target') ?? '';
  const account = params.get('account') ?? '';
  usePageTitle(target === '' || account === '' ? 'Open a terminal' : `${account}@${target}`);

  if (target === '' || account === '') {
    return (
      <>
        <h1 tabIndex={-1}>Open a terminal</h1>
        <div className="panel">
          <p>
            Name the account and its target. Tessera connects you through its gateway, with the
            account's credentials, without showing them.
          </p>
          <ConnectForm target={target} account={account} />
        </div>
      </>
    );
  }
  return <TerminalScreen key={`${account}@${target}`} target={target} account={account} />;
}

function TerminalScreen({
  target,
  account,
}: {
  readonly target: string;
  readonly account: string;
}) {
  const login = `${account}@${target}`;
  const [state, setState] = useState<LinkState>({ phase: 'connecting' });
  const [round, setRound] = useState(0);
  const link = useRef<TerminalLink | null>(null);
  const endButton = useRef<HTMLButtonElement>(null);
  const againButton = useRef<HTMLButtonElement>(null);
  const ended = state.phase === 'ended';

  return (
    <div className="sess-connect">
      <div className="sess-head">
        <h1 tabIndex={-1}>
          Terminal <span className="sess-login">{login}</span>
        </h1>
        {ended ? (
          <button type="button" ref={againButton} onClick={() => setRound((n) => n + 1)}>
            Connect again
          </button>
        ) : (
          <button
            type="button"
            ref={endButton}
            className="sess-button-danger"
            onClick={() => link.current?.close()}
          >
            End session
          </button>
        )}
      </div>
      <TerminalStatus
        state={state}
        connecting={`Connecting to ${login} through Tessera's gateway…`}
        open={`Connected to ${login}. Tessera may record this session, and auditors watch it.`}
      />
      <BrowserTerminal
        key={round}
        target={target}
        account={account}
        onState={setState}
        link={link}
        onLeave={() => (endButton.current ?? againButton.current)?.focus()}
      />
      <p className="hint">
        Every key goes to the remote shell; <kbd>Ctrl</kbd>+<kbd>Shift</kbd>+<kbd>E</kbd> moves the
        keyboard back to this page.
      </p>
    </div>
  );
}
