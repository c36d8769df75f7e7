import type { PolicyService } from '../accounts/policies.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { RequestContext } from '../audit/event.ts';
import type { Clock } from '../clock.ts';
import type { SessionPolicyTable } from '../store/schema.ts';
import type { Store } from '../store/store.ts';

/** How sessions through the gateway behave, per account policy. */
export interface SessionPolicy {
  /** Keystrokes go into the recording as input events. */
  readonly recordInput: boolean;
  /** A session that cannot be recorded is refused, and one whose recording fails is ended. */
  readonly recordingRequired: boolean;
  readonly allowSftp: boolean;
  readonly allowPortForwarding: boolean;
  readonly allowAgentForwarding: boolean;
  readonly allowX11: boolean;
  /** Seconds without data either way before the session ends; null for no limit. */
  readonly idleTimeoutS: number | null;
  /** Seconds a session may last; null for no limit. */
  readonly maxSessionS: number | null;
  /** The recorder had to drop output (the disk could not keep up): end the session. */
  readonly endOnRecordingDrop: boolean;
  /**
   * While the recording falls behind, the target's output waits for it, at most 250 ms at a
   * time (gateway/recording-pace.ts); off, output never waits and the recorder drops what it
   * cannot take, with a marker in the recording.
   */
  readonly holdForRecording: boolean;
}

/** Record everything, refuse what cannot be recorded, forward nothing. */
export const DEFAULT_SESSION_POLICY: SessionPolicy = {
  recordInput: true,
  recordingRequired: true,
  allowSftp: true,
  allowPortForwarding: false,
  allowAgentForwarding: false,
  allowX11: false,
  idleTimeoutS: null,
  maxSessionS: null,
  endOnRecordingDrop: false,
  holdForRecording: true,
};

export interface SessionPolicyService {
  /** The session policy of an account policy; the defaults when none was set. */
  forPolicy(policyId: string): Promise<SessionPolicy>;
  byName(policyName: string): Promise<SessionPolicy>;
  set(ctx: RequestContext, policyName: string, settings: SessionPolicy): Promise<SessionPolicy>;
}

const CACHE_MS = 2_000;

export function createSessionPolicyService(deps: {
  store: Store;
  audit: AuditLog;
  policies: Pick<PolicyService, 'byName'>;
  clock: Clock;
}): SessionPolicyService {
  const { store, audit, policies, clock } = deps;
  // Every connection reads its policy; a change here is seen at once, on another node in 2 s.
  const cache = new Map<string, { policy: SessionPolicy; at: number }>();

  const forPolicy = async (policyId: string) => {
    const cached = cache.get(policyId);
    if (cached !== undefined && clock.now() - cached.at < CACHE_MS) return cached.policy;
    const row = await store.db
      .selectFrom('session_policies')
      .selectAll()
      .where('policy_id', '=', policyId)
      .executeTakeFirst();
    const policy = row === undefined ? DEFAULT_SESSION_POLICY : toPolicy(row);
    cache.set(policyId, { policy, at: clock.now() });
    return policy;
  };

  return {
    forPolicy,

    async byName(policyName) {
      const policy = await policies.byName(policyName);
      return forPolicy(policy.id);
    },

    async set(ctx, policyName, settings) {
      const policy = await policies.byName(policyName);
      const row = toRow(policy.id, settings, clock.now());
      await store.transaction(async (trx) => {
        const existing = await trx
          .selectFrom('session_policies')
          .select('policy_id')
          .where('policy_id', '=', policy.id)
          .executeTakeFirst();
        if (existing === undefined) {
          await trx.insertInto('session_policies').values(row).execute();
        } else {
          const { policy_id: _, ...columns } = row;
          await trx
            .updateTable('session_policies')
            .set(columns)
            .where('policy_id', '=', policy.id)
            .execute();
        }
        await audit.appendInTx(trx, [
          {
            action: 'policy.session.update',
            outcome: 'success',
            actor: ctx.actor,
            object: { type: 'policy', id: policy.id, name: policy.name },
            source: ctx.source,
            requestId: ctx.requestId,
            details: { ...settings },
          },
        ]);
      });
      await store.durable();
      cache.delete(policy.id);
      return settings;
    },
  };
}

function toPolicy(row: SessionPolicyTable): SessionPolicy {
  return {
    recordInput: row.record_input !== 0,
    recordingRequired: row.recording_required !== 0,
    allowSftp: row.allow_sftp !== 0,
    allowPortForwarding: row.allow_port_forwarding !== 0,
    allowAgentForwarding: row.allow_agent_forwarding !== 0,
    allowX11: row.allow_x11 !== 0,
    idleTimeoutS: row.idle_timeout_s,
    maxSessionS: row.max_session_s,
    endOnRecordingDrop: row.end_on_recording_drop !== 0,
    holdForRecording: row.hold_for_recording !== 0,
  };
}

function toRow(policyId: string, s: SessionPolicy, now: number): SessionPolicyTable {
  const flag = (value: boolean) => (value ? 1 : 0);
  return {
    policy_id: policyId,
    record_input: flag(s.recordInput),
    recording_required: flag(s.recordingRequired),
    allow_sftp: flag(s.allowSftp),
    allow_port_forwarding: flag(s.allowPortForwarding),
    allow_agent_forwarding: flag(s.allowAgentForwarding),
    allow_x11: flag(s.allowX11),
    idle_timeout_s: s.idleTimeoutS,
    max_session_s: s.maxSessionS,
    end_on_recording_drop: flag(s.endOnRecordingDrop),
    hold_for_recording: flag(s.holdForRecording),
    updated_at: now,
  };
}
