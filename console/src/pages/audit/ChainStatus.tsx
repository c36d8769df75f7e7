import { type FormEvent, useState } from 'react';
import { ErrorNotice } from '../../components/ErrorNotice.tsx';
import { useApi } from '../../session.tsx';
import type { ChainReport } from './types.ts';

/** What each problem POST /v1/audit/verify names means, in words. */
const PROBLEMS: Readonly<Record<string, string>> = {
  altered: 'its content or hash was changed after it was written',
  missing: 'events before it are missing',
  reordered: 'events are out of order',
  'checkpoint-mismatch': 'a signed checkpoint names a different hash for it',
  'checkpoint-signature': 'the signature of a checkpoint does not verify',
  truncated: 'the newest events and checkpoints were cut from the end',
  'anchor-mismatch': 'it does not match the anchor you gave',
};

type Check =
  | { readonly status: 'idle' }
  | { readonly status: 'checking' }
  | { readonly status: 'done'; readonly report: ChainReport; readonly at: Date }
  | { readonly status: 'error'; readonly error: unknown };

/**
 * The hash chain's verification state, said plainly: not checked, intact, or broken at an
 * event. Verifying walks every event on the server, so it runs when asked, not on every visit.
 * An anchor (a seq and hash kept outside Tessera) also proves nothing was cut from the end.
 */
export function ChainStatus() {
  const api = useApi();
  const [check, setCheck] = useState<Check>({ status: 'idle' });
  const [anchorSeq, setAnchorSeq] = useState('');
  const [anchorHash, setAnchorHash] = useState('');

  const verify = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setCheck({ status: 'checking' });
    const seq = Number(anchorSeq);
    const hash = anchorHash.trim().toLowerCase();
    const anchors = anchorSeq !== '' && hash !== '' ? [{ seq, hash }] : [];
    api.send<ChainReport>('POST', '/v1/audit/verify', { anchors }).then(
      (report) => setCheck({ status: 'done', report, at: new Date() }),
      (error: unknown) => setCheck({ status: 'error', error }),
    );
  };

  return (
    <section className="chain" aria-labelledby="chain-title">
      <h2 id="chain-title" className="visually-hidden">
        Chain verification
      </h2>
      <ChainBanner check={check} />
      <form className="chain-form" onSubmit={verify}>
        <details className="chain-anchor">
          <summary>Check against an anchor kept outside Tessera</summary>
          <div className="field-row">
            <div className="field">
              <label htmlFor="anchor-seq">Anchor seq</label>
              <input
                id="anchor-seq"
                inputMode="numeric"
                pattern="[0-9]+"
                value={anchorSeq}
                onChange={(e) => setAnchorSeq(e.target.value)}
              />
            </div>
            <div className="field field-wide">
              <label htmlFor="anchor-hash">Anchor hash (SHA-256, hex)</label>
              <input
                id="anchor-hash"
                pattern="[0-9a-fA-F]{64}"
                spellCheck={false}
                autoComplete="off"
                value={anchorHash}
                onChange={(e) => setAnchorHash(e.target.value)}
              />
            </div>
          </div>
        </details>
        <button type="submit" disabled={check.status === 'checking'}>
          {check.status === 'checking' ? 'Verifying…' : 'Verify the chain'}
        </button>
      </form>
    </section>
  );
}

function ChainBanner({ check }: { readonly check: Check }) {
  switch (check.status) {
    case 'idle':
      return (
        <div className="chain-banner chain-unknown" role="status">
          <strong>Chain not checked.</strong> Verify recomputes every event's hash and checks the
          signed checkpoints; it takes a moment on a long trail.
        </div>
      );
    case 'checking':
      return (
        <div className="chain-banner chain-unknown" role="status">
          <strong>Checking the chain…</strong>
        </div>
      );
    case 'error':
      return <ErrorNotice doing="verify the audit chain" error={check.error} />;
    case 'done':
      return <ReportBanner report={check.report} at={check.at} />;
  }
}

function ReportBanner({ report, at }: { readonly report: ChainReport; readonly at: Date }) {
  const when = at.toLocaleTimeString();
  if (!report.ok || report.firstBad !== null) {
    const bad = report.firstBad;
    return (
      <div className="chain-banner chain-broken" role="alert">
        <strong>Chain broken{bad === null ? '' : ` at seq ${bad.seq}`}</strong>:{' '}
        {bad === null ? 'the server reported a problem' : (PROBLEMS[bad.problem] ?? bad.problem)}.
        Events from there on cannot be trusted: keep the store as it is, and tell your security
        team. <span className="chain-meta">Checked at {when}.</span>
      </div>
    );
  }
  return (
    <div className="chain-banner chain-intact" role="status">
      <strong>Chain intact.</strong> {report.events} events up to seq {report.lastSeq}, each hash
      recomputed and matching. {signatures(report)}{' '}
      <span className="chain-meta">Checked at {when}.</span>
    </div>
  );
}

/** What the signed checkpoints cover: the newest events wait for the next one. */
function signatures(report: ChainReport): string {
  const waiting =
    report.unsigned === 0
      ? ''
      : ` ${report.unsigned} newer ${report.unsigned === 1 ? 'event awaits' : 'events await'}` +
        ' the next signature.';
  if (report.lastCheckpoint === null) {
    return 'No signed checkpoint yet: the server signs one periodically.';
  }
  const noun = report.checkpoints === 1 ? 'checkpoint' : 'checkpoints';
  const count = `${report.checkpoints} signed ${noun}`;
  return `${count}, the newest at seq ${report.lastCheckpoint.seq}, verified.${waiting}`;
}
