import type { GrantKind, RequestStatus } from './types.ts';
import { KIND_LABEL, STATUS_LABEL } from './words.ts';

/** A request's status as a coloured badge; the words carry it, the colour only helps. */
export function StatusBadge({ status }: { readonly status: RequestStatus }) {
  return <span className={`rq-badge rq-badge-${status}`}>{STATUS_LABEL[status]}</span>;
}

/** How a grant came to be: an approved request, break-glass, or a temporary account. */
export function KindBadge({ kind }: { readonly kind: GrantKind }) {
  return <span className={`rq-badge rq-badge-kind-${kind}`}>{KIND_LABEL[kind]}</span>;
}

/** Whether a grant still holds, ended by time, or was revoked. */
export function GrantStateBadge({
  active,
  revoked,
}: {
  readonly active: boolean;
  readonly revoked: boolean;
}) {
  if (active) return <span className="rq-badge rq-badge-approved">Active</span>;
  return revoked ? (
    <span className="rq-badge rq-badge-denied">Revoked</span>
  ) : (
    <span className="rq-badge rq-badge-expired">Ended</span>
  );
}
