/**
 * The shape of every table, as Kysely sees it. Timestamps are milliseconds since the epoch
 * (BIGINT on PostgreSQL, INTEGER on SQLite); flags are 0 or 1; binary values are Buffers.
 * Each domain owns its tables; this file only declares them so one query layer can type them.
 */
export interface KeyringTable {
  id: string;
  wrapped_root_key: Buffer;
  unseal_shares: number;
  unseal_threshold: number;
  share_digests: string;
  root_generation: number;
  wrapped_signing_key: Buffer;
  signing_public_key: string;
  created_at: number;
}

export interface UserTable {
  id: string;
  name: string;
  role: string;
  password_hash: string | null;
  disabled: number;
  builtin: number;
  created_at: number;
  updated_at: number;
  /**
   * The person this user is, as the id of that person's primary user (a directory link between
   * two logins); null: the user is a person alone.
   */
  person_id: string | null;
}

export interface TokenTable {
  id: string;
  token_hash: string;
  user_id: string;
  kind: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
}

export interface SafeTable {
  id: string;
  name: string;
  description: string;
  wrapped_kek: Buffer;
  root_generation: number;
  created_at: number;
  created_by: string;
}

export interface SafeMemberTable {
  safe_id: string;
  user_id: string;
  permissions: string;
  added_at: number;
  added_by: string;
}

export interface PolicyTable {
  id: string;
  name: string;
  rotation_interval_s: number | null;
  secret_length: number;
  min_lowercase: number;
  min_uppercase: number;
  min_digits: number;
  min_symbols: number;
  symbols: string;
  exclude_characters: string;
  exclusive_checkout: number;
  rotate_on_checkin: number;
  max_checkout_s: number;
  rotate_at: string | null;
  time_zone: string | null;
  jitter_s: number;
  max_per_target: number;
  rotate_on_checkout_expiry: number;
  created_at: number;
  updated_at: number;
}

export interface TargetTable {
  id: string;
  name: string;
  platform: string;
  host: string;
  port: number;
  database_name: string | null;
  options: string;
  created_at: number;
}

export interface AccountTable {
  id: string;
  target_id: string;
  username: string;
  safe_id: string;
  policy_id: string;
  current_version: number | null;
  state: string;
  last_verified_at: number | null;
  last_verify_result: string | null;
  last_rotated_at: number | null;
  last_rotation_error: string | null;
  next_rotation_at: number | null;
  needs_rotation: number;
  rotation_lease_owner: string | null;
  rotation_lease_until: number | null;
  checkout_id: string | null;
  checked_out_by: string | null;
  checked_out_at: number | null;
  checkout_expires_at: number | null;
  secret_type: string;
  reconcile_account_id: string | null;
  rotation_failures: number;
  last_rotation_attempt_at: number | null;
  created_at: number;
  breakglass: number;
}

export interface SecretVersionTable {
  account_id: string;
  version: number;
  status: string;
  ciphertext: Buffer;
  wrapped_key: Buffer;
  created_at: number;
  created_by: string;
  origin: string;
  promoted_at: number | null;
}

export interface AuditEventTable {
  seq: number;
  id: string;
  at: number;
  actor_id: string | null;
  actor_name: string | null;
  action: string;
  object_type: string | null;
  object_id: string | null;
  object_name: string | null;
  outcome: string;
  source: string | null;
  reason: string | null;
  request_id: string | null;
  details: string | null;
  prev_hash: string;
  hash: string;
}

export interface AuditCheckpointTable {
  seq: number;
  hash: string;
  signed_at: number;
  signature: Buffer;
}

export interface LeaseTable {
  name: string;
  owner: string;
  expires_at: number;
}

export interface Database {
  keyring: KeyringTable;
  users: UserTable;
  tokens: TokenTable;
  safes: SafeTable;
  safe_members: SafeMemberTable;
  policies: PolicyTable;
  targets: TargetTable;
  accounts: AccountTable;
  secret_versions: SecretVersionTable;
  audit_events: AuditEventTable;
  audit_checkpoints: AuditCheckpointTable;
  leases: LeaseTable;
  rotation_runs: RotationRunTable;
  rotation_run_items: RotationRunItemTable;
  discovery_runs: DiscoveryRunTable;
  discovered_accounts: DiscoveredAccountTable;
  user_ssh_keys: UserSshKeyTable;
  session_policies: SessionPolicyTable;
  sessions: SessionTable;
  session_commands: SessionCommandTable;
  session_kill_requests: SessionKillRequestTable;
  nodes: NodeTable;
  session_watch_tickets: SessionWatchTicketTable;
  groups: GroupTable;
  group_members: GroupMemberTable;
  access_policies: AccessPolicyTable;
  access_requests: AccessRequestTable;
  request_approvals: RequestApprovalTable;
  grants: GrantTable;
  ephemeral_configs: EphemeralConfigTable;
  ephemeral_accounts: EphemeralAccountTable;
  breakglass_events: BreakglassEventTable;
  user_mfa: UserMfaTable;
  webhooks: WebhookTable;
  webhook_deliveries: WebhookDeliveryTable;
}

export interface RotationRunTable {
  id: string;
  started_by: string;
  scope: string;
  state: string;
  total: number;
  succeeded: number;
  failed: number;
  node_id: string;
  started_at: number;
  finished_at: number | null;
}

export interface RotationRunItemTable {
  run_id: string;
  account_id: string;
  state: string;
  error: string | null;
  finished_at: number | null;
}

export interface DiscoveryRunTable {
  id: string;
  target_id: string;
  started_by: string;
  state: string;
  error: string | null;
  found: number;
  appeared: number;
  disappeared: number;
  started_at: number;
  finished_at: number | null;
}

export interface DiscoveredAccountTable {
  target_id: string;
  username: string;
  reasons: string;
  first_seen_at: number;
  last_seen_at: number;
  gone_at: number | null;
  last_run_id: string;
}

export interface UserSshKeyTable {
  id: string;
  user_id: string;
  fingerprint: string;
  key_type: string;
  public_key: string;
  comment: string;
  created_at: number;
  last_used_at: number | null;
}

export interface SessionPolicyTable {
  policy_id: string;
  record_input: number;
  recording_required: number;
  allow_sftp: number;
  allow_port_forwarding: number;
  allow_agent_forwarding: number;
  allow_x11: number;
  idle_timeout_s: number | null;
  max_session_s: number | null;
  end_on_recording_drop: number;
  hold_for_recording: number;
  updated_at: number;
}

export interface SessionTable {
  id: string;
  user_id: string;
  user_name: string;
  account_id: string;
  account_username: string;
  target_id: string;
  target_name: string;
  kind: string;
  command: string | null;
  client_address: string | null;
  width: number;
  height: number;
  started_at: number;
  ended_at: number | null;
  end_reason: string | null;
  bytes_in: number;
  bytes_out: number;
  recording_path: string | null;
  wrapped_key: Buffer | null;
  recording_sha256: string | null;
  recording_dropped_bytes: number;
  node_id: string;
  state: string;
}

/** A kill asked of a node that does not run the session, waiting for the node that does. */
export interface SessionKillRequestTable {
  session_id: string;
  node_id: string;
  reason: string;
  requested_by: string;
  requested_at: number;
  done_at: number | null;
}

/** A Tessera node, and where the other nodes reach its API (null: they cannot). */
export interface NodeTable {
  id: string;
  api_url: string | null;
  started_at: number;
}

/** A watch passed on to the node that runs the session; keyed by the ticket's digest. */
export interface SessionWatchTicketTable {
  digest: string;
  session_id: string;
  user_id: string;
  token_id: string;
  source: string | null;
  request_id: string | null;
  via_node: string;
  expires_at: number;
}

export interface SessionCommandTable {
  session_id: string;
  seq: number;
  offset_ms: number;
  at: number;
  command: string;
}

export interface GroupTable {
  id: string;
  name: string;
  description: string;
  created_at: number;
}

export interface GroupMemberTable {
  group_id: string;
  user_id: string;
  added_at: number;
  added_by: string;
}

export interface AccessPolicyTable {
  id: string;
  safe_id: string | null;
  account_id: string | null;
  approval_for: string;
  approvals_required: number;
  approver_group_id: string | null;
  escalate_after_s: number | null;
  escalation_group_id: string | null;
  request_ttl_s: number;
  require_reason: number;
  require_ticket: number;
  ticket_pattern: string | null;
  ticket_validator_url: string | null;
  max_duration_s: number;
  window_days: string | null;
  window_start: string | null;
  window_end: string | null;
  window_time_zone: string | null;
  breakglass_window_s: number;
  ephemeral_reveal: number;
  updated_at: number;
  updated_by: string;
}

export interface AccessRequestTable {
  id: string;
  requester_id: string;
  requester_person: string;
  scope: string;
  safe_id: string;
  account_id: string | null;
  target_id: string | null;
  role: string | null;
  permissions: string;
  duration_s: number;
  reason: string;
  ticket: string | null;
  status: string;
  approvals_required: number;
  created_at: number;
  expires_at: number;
  escalate_at: number | null;
  escalated_at: number | null;
  decided_at: number | null;
  decided_by: string | null;
  decision_comment: string | null;
  grant_id: string | null;
}

export interface RequestApprovalTable {
  request_id: string;
  approver_person: string;
  approver_id: string;
  decision: string;
  comment: string;
  at: number;
}

export interface GrantTable {
  id: string;
  request_id: string | null;
  user_id: string;
  kind: string;
  safe_id: string;
  account_id: string | null;
  permissions: string;
  starts_at: number;
  ends_at: number;
  revoked_at: number | null;
  revoked_by: string | null;
  revoke_reason: string | null;
  closed_at: number | null;
  created_at: number;
}

export interface EphemeralConfigTable {
  target_id: string;
  admin_account_id: string;
  roles: string;
  updated_at: number;
}

export interface EphemeralAccountTable {
  id: string;
  grant_id: string;
  target_id: string;
  username: string;
  role: string;
  state: string;
  ciphertext: Buffer | null;
  revealed_at: number | null;
  created_at: number;
  dropped_at: number | null;
  last_error: string | null;
}

export interface BreakglassEventTable {
  id: string;
  grant_id: string;
  account_id: string;
  user_id: string;
  reason: string;
  second_factor: number;
  opened_at: number;
  ends_at: number;
  closed_at: number | null;
  rotation_requested_at: number | null;
  review_state: string;
  outcome: string | null;
  review_notes: string | null;
  reviewed_by: string | null;
  reviewed_at: number | null;
}

export interface UserMfaTable {
  user_id: string;
  kind: string;
  ciphertext: Buffer;
  confirmed_at: number | null;
  last_step: number | null;
  created_at: number;
}

export interface WebhookTable {
  id: string;
  name: string;
  url: string;
  ciphertext: Buffer;
  events: string;
  enabled: number;
  created_at: number;
  created_by: string;
}

export interface WebhookDeliveryTable {
  id: string;
  webhook_id: string;
  event: string;
  payload: string;
  attempts: number;
  next_attempt_at: number;
  state: string;
  last_error: string | null;
  created_at: number;
  delivered_at: number | null;
}
