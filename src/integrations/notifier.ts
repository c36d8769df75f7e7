/**
 * How Tessera tells people outside it that something happened: new access requests for
 * approvers, escalations, break-glass alerts. The webhook dispatcher implements it; the domains
 * only see this interface.
 */
export interface Notifier {
  /**
   * Queues `event` for every enabled webhook subscribed to it. The payload is metadata only,
   * never a secret. Queued deliveries survive a restart and are retried with back-off.
   */
  notify(event: string, payload: Readonly<Record<string, unknown>>): Promise<void>;
  /**
   * A critical alert: queued for every enabled webhook whatever it subscribes to, and written
   * to the server log at error level.
   */
  alert(event: string, payload: Readonly<Record<string, unknown>>): Promise<void>;
}
