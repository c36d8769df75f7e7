import { type FormEvent, type ReactNode, type Ref, useEffect, useRef, useState } from 'react';
import type { SshKey, SshKeyChallenge } from '../../api-types.ts';
import { ErrorNotice } from '../../components/ErrorNotice.tsx';
import { useApi } from '../../session.tsx';
import { type AddProblems, NO_PROBLEMS, ownProblem, problemsOf } from './keyErrors.ts';
import { PasteField } from './PasteField.tsx';
import { SignCommand } from './SignCommand.tsx';
import { holdsPrivateKey, type KeyLine, keyLineOf, type PasteRefusal } from './signCommand.ts';

/** The API's limits (src/http/routes/ssh-key-routes.ts), so a paste is never cut silently. */
const MAX_KEY_LINE = 16 * 1024;
const MAX_SIGNATURE = 16 * 1024;
const CHALLENGE_PATH = '/v1/users/me/ssh-keys/challenge';
const KEYS_PATH = '/v1/users/me/ssh-keys';

type Stage =
  | { readonly step: 'key' }
  | { readonly step: 'sign'; readonly key: KeyLine; readonly issued: SshKeyChallenge };

/** Said of a private key pasted anywhere: it is not sent, and it leaves the page at once. */
const PRIVATE_KEY_PASTED =
  'That is a private key, which must never leave your computer: nothing was sent, and the ' +
  'field is cleared.';

const REFUSALS: Readonly<Record<PasteRefusal, string>> = {
  empty:
    'Paste your public key: the one line of its .pub file, starting with ssh-ed25519, ssh-rsa ' +
    'or ecdsa-sha2.',
  private: `${PRIVATE_KEY_PASTED} Paste the .pub file instead.`,
  several: 'That is more than one key: paste one line, and add the others one at a time.',
};

/**
 * Adding one of the user's own keys in three steps: the public key line; the server's challenge
 * with the ssh-keygen command that signs it; the signature, sent with the key and the challenge
 * in a POST body (neither ever goes in a URL). Each refusal is said next to the field it is
 * about, in the server's words, and focus goes there.
 */
export function AddKeyForm({ onAdded }: { readonly onAdded: (key: SshKey) => void }) {
  const api = useApi();
  const [stage, setStage] = useState<Stage>({ step: 'key' });
  const [keyText, setKeyText] = useState('');
  const [signature, setSignature] = useState('');
  const [busy, setBusy] = useState<'challenge' | 'register' | null>(null);
  const [problems, setProblems] = useState<AddProblems>(NO_PROBLEMS);
  const keyField = useRef<HTMLTextAreaElement>(null);
  const signatureField = useRef<HTMLTextAreaElement>(null);
  const signHeading = useRef<HTMLHeadingElement>(null);
  /** Set when the user goes back to change the key: the key field is where they go next. */
  const focusKey = useRef(false);
  const issuedChallenge = stage.step === 'sign' ? stage.issued.challenge : null;

  // A new challenge moves the reader on to the command that signs it.
  useEffect(() => {
    if (issuedChallenge !== null) signHeading.current?.focus();
  }, [issuedChallenge]);

  useEffect(() => {
    if (stage.step !== 'key' || !focusKey.current) return;
    focusKey.current = false;
    keyField.current?.focus();
  }, [stage.step]);

  // After a refusal, focus goes to the field it is about, where its words are read out.
  useEffect(() => {
    if (problems.publicKey !== undefined) keyField.current?.focus();
    else if (problems.signature !== undefined) signatureField.current?.focus();
  }, [problems]);

  const refuse = (error: unknown) => {
    const found = problemsOf(error);
    // A key refused after its challenge (taken meanwhile) is fixed in step 1, so back there.
    if (found.publicKey !== undefined) setStage({ step: 'key' });
    setProblems(found);
    setBusy(null);
  };

  const askChallenge = (key: KeyLine) => {
    setBusy('challenge');
    setProblems(NO_PROBLEMS);
    api.send<SshKeyChallenge>('POST', CHALLENGE_PATH, { publicKey: key.line }).then((issued) => {
      // A signature made for the old challenge cannot serve for the new one.
      setSignature('');
      setStage({ step: 'sign', key, issued });
      setBusy(null);
    }, refuse);
  };

  const onKeySubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (busy !== null) return;
    const key = keyLineOf(keyText);
    if (typeof key === 'string') {
      if (key === 'private') setKeyText('');
      setProblems({ publicKey: ownProblem(REFUSALS[key]) });
      return;
    }
    askChallenge(key);
  };

  const onRegister = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (busy !== null || stage.step !== 'sign') return;
    if (holdsPrivateKey(signature)) {
      setSignature('');
      setProblems({
        signature: ownProblem(`${PRIVATE_KEY_PASTED} Paste what ssh-keygen printed.`),
      });
      return;
    }
    if (signature.trim() === '') {
      setProblems({ signature: ownProblem('Paste the signature that ssh-keygen printed.') });
      return;
    }
    setBusy('register');
    setProblems(NO_PROBLEMS);
    const body = { publicKey: stage.key.line, challenge: stage.issued.challenge, signature };
    api.send<SshKey>('POST', KEYS_PATH, body).then((added) => {
      setStage({ step: 'key' });
      setKeyText('');
      setSignature('');
      setBusy(null);
      onAdded(added);
    }, refuse);
  };

  const changeKey = () => {
    focusKey.current = true;
    setStage({ step: 'key' });
    setSignature('');
    setProblems(NO_PROBLEMS);
  };

  const clear = (field: 'publicKey' | 'signature') =>
    setProblems((old) => {
      if (old[field] === undefined) return old;
      const { [field]: _cleared, ...rest } = old;
      return rest;
    });

  return (
    <div className="panel sk-add">
      <Step id="sk-step-key" title="1. Paste your public key" current={stage.step === 'key'}>
        {stage.step === 'key' ? (
          <form onSubmit={onKeySubmit} noValidate>
            <PasteField
              ref={keyField}
              label="Public key"
              refused="the key"
              hint={
                <>
                  The one line of your <code>.pub</code> file, for example the output of{' '}
                  <code>cat ~/.ssh/id_ed25519.pub</code>. Ed25519, RSA of 2048 bits and more, and
                  ECDSA keys are accepted. Never paste the private key.
                </>
              }
              placeholder="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA… you@laptop"
              rows={3}
              maxLength={MAX_KEY_LINE}
              problem={problems.publicKey}
              value={keyText}
              onChange={(value) => {
                setKeyText(value);
                clear('publicKey');
              }}
            />
            <div className="sk-buttons">
              <button type="submit" disabled={busy !== null}>
                {busy === 'challenge' ? 'Asking for a challenge…' : 'Next: get a challenge'}
              </button>
            </div>
          </form>
        ) : (
          <div className="sk-buttons sk-chosen">
            <p data-testid="chosen-key">
              <span className="sk-mono">{stage.key.type}</span>
              {stage.key.comment !== '' && <> ({stage.key.comment})</>}
            </p>
            <button
              type="button"
              className="button-secondary"
              onClick={changeKey}
              disabled={busy !== null}
            >
              Change key
            </button>
          </div>
        )}
      </Step>

      <Step
        id="sk-step-sign"
        title="2. Sign the challenge in your terminal"
        current={stage.step === 'sign'}
        headingRef={signHeading}
      >
        {stage.step === 'sign' ? (
          <SignCommand issued={stage.issued} keyLine={stage.key} />
        ) : (
          <p className="hint">
            Once Tessera has your public key, it gives you a command to run that proves you hold the
            private key. Tessera never sees the private key itself.
          </p>
        )}
      </Step>

      <Step
        id="sk-step-register"
        title="3. Paste the signature and register"
        current={stage.step === 'sign'}
      >
        {stage.step === 'sign' ? (
          <form onSubmit={onRegister} noValidate>
            <PasteField
              ref={signatureField}
              label="Signature"
              refused="the signature"
              hint={
                <>
                  Everything ssh-keygen printed, from <code>-----BEGIN SSH SIGNATURE-----</code> to{' '}
                  <code>-----END SSH SIGNATURE-----</code>.
                </>
              }
              rows={7}
              maxLength={MAX_SIGNATURE}
              problem={problems.signature}
              value={signature}
              onChange={(value) => {
                setSignature(value);
                clear('signature');
              }}
            />
            <div className="sk-buttons">
              <button type="submit" disabled={busy !== null}>
                {busy === 'register' ? 'Registering…' : 'Register key'}
              </button>
              <button
                type="button"
                className="button-secondary"
                disabled={busy !== null}
                onClick={() => askChallenge(stage.key)}
              >
                {busy === 'challenge' ? 'Asking…' : 'Get a new challenge'}
              </button>
            </div>
          </form>
        ) : (
          <p className="hint">Then you paste what ssh-keygen printed, and the key is yours.</p>
        )}
      </Step>

      {problems.form !== undefined && <ErrorNotice doing="add the key" error={problems.form} />}
    </div>
  );
}

/** One numbered step; the one to act on now stands out, the others are quieter. */
function Step({
  id,
  title,
  current,
  headingRef,
  children,
}: {
  readonly id: string;
  readonly title: string;
  readonly current: boolean;
  /** Given to the heading that focus moves to when the step begins. */
  readonly headingRef?: Ref<HTMLHeadingElement>;
  readonly children: ReactNode;
}) {
  return (
    <section className={current ? 'sk-step sk-step-current' : 'sk-step'} aria-labelledby={id}>
      <h3 id={id} ref={headingRef} tabIndex={headingRef === undefined ? undefined : -1}>
        {title}
      </h3>
      {children}
    </section>
  );
}
