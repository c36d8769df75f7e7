import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { isRole, type Role } from '../identity/principal.ts';
import { digestOf } from '../identity/tokens.ts';
import type { Store } from '../store/store.ts';

/**
 * A watch, or a recording's export, passed from the node a user asked to the node that runs the
 * session or keeps its recording. The ticket names the user as the first node found them (signed
 * in, allowed): 256 random bits, one use, for one session, one purpose and one node, within 30
 * seconds. The store keeps only its digest. The purpose (the prefix) and the node (after it) are
 * written in the ticket, which the digest covers: a watch ticket fetches no recording, and a
 * ticket sent to a wrong address is no use on the node found there.
 */
export const WATCH_TICKET_TTL_MS = 30_000;
export type TicketPurpose = 'watch' | 'recording';

/** What a ticket is for: its purpose, and the node that runs the session or keeps the file. */
export interface TicketUse {
  readonly purpose: TicketPurpose;
  readonly node: string;
}

const TICKET_PREFIX: Record<TicketPurpose, string> = { watch: 'tsr-watch-', recording: 'tsr-rec-' };
/** A node's id as a ticket names it: a UUID where Tessera makes it. */
const NODE_ID = '[A-Za-z0-9_-]{1,64}';
const NODE_ID_ALONE = new RegExp(`^${NODE_ID}$`);
/** The node's id, a dot, then the 256 random bits. */
const TICKET_BODY = new RegExp(`^(${NODE_ID})\\.[A-Za-z0-9_-]{43}$`);

/** The node a ticket of this purpose is for, read from the ticket; null for anything else. */
export function ticketNode(ticket: string, purpose: TicketPurpose): string | null {
  const prefix = TICKET_PREFIX[purpose];
  if (!ticket.startsWith(prefix)) return null;
  return TICKET_BODY.exec(ticket.slice(prefix.length))?.[1] ?? null;
}

export interface WatchTicketHolder {
  readonly userId: string;
  readonly name: string;
  readonly role: Role;
  /** The watcher's sign-in: the watch ends when it does. */
  readonly tokenId: string;
  /** The watcher's address, for the audit event. */
  readonly source: string | null;
  /** The watcher's request on the first node, so the two nodes' logs can be joined. */
  readonly requestId: string | null;
  /** The node the watcher asked, which passes the stream on. */
  readonly viaNode: string;
}

/** What a ticket stores: the user's name and role are read again when it is redeemed. */
export type WatchTicketRequest = Omit<WatchTicketHolder, 'name' | 'role'>;

export interface WatchTickets {
  issue(sessionId: string, holder: WatchTicketRequest, use: TicketUse): Promise<string>;
  /** Whether the ticket was made for this session and use and its time holds; spends nothing. */
  valid(ticket: string, sessionId: string, use: TicketUse): Promise<boolean>;
  /**
   * The holder, once, for a ticket made for this session and use within its time, with the name
   * and role their sign-in has now; null for anything else, or a sign-in not theirs. A ticket of
   * another purpose or node is left unspent.
   */
  redeem(ticket: string, sessionId: string, use: TicketUse): Promise<WatchTicketHolder | null>;
  /**
   * Spends the ticket if it is still there, whatever it was for, by the node that made it once
   * it is done with it; answers whether it was still there (the other node never redeemed it).
   */
  spend(ticket: string): Promise<boolean>;
}

export function createWatchTickets(deps: { store: Store; clock: Clock }): WatchTickets {
  const { store, clock } = deps;
  return {
    async issue(sessionId, holder, use) {
      if (!NODE_ID_ALONE.test(use.node))
        throw new Error(`a node id tickets cannot name: ${use.node}`);
      const now = clock.now();
      const random = randomBytes(32).toString('base64url');
      const ticket = `${TICKET_PREFIX[use.purpose]}${use.node}.${random}`;
      await store.transaction(async (trx) => {
        // Tickets nobody used: a relay that never connected, a node that went away.
        await trx.deleteFrom('session_watch_tickets').where('expires_at', '<=', now).execute();
        await trx
          .insertInto('session_watch_tickets')
          .values({
            digest: digestOf(ticket),
            session_id: sessionId,
            user_id: holder.userId,
            token_id: holder.tokenId,
            source: holder.source,
            request_id: holder.requestId,
            via_node: holder.viaNode,
            expires_at: now + WATCH_TICKET_TTL_MS,
          })
          .execute();
      });
      return ticket;
    },

    async valid(ticket, sessionId, use) {
      if (ticketNode(ticket, use.purpose) !== use.node) return false;
      const row = await store.db
        .selectFrom('session_watch_tickets')
        .select(['session_id', 'expires_at'])
        .where('digest', '=', digestOf(ticket))
        .executeTakeFirst();
      return row !== undefined && row.session_id === sessionId && row.expires_at > clock.now();
    },

    async spend(ticket) {
      const spent = await store.db
        .deleteFrom('session_watch_tickets')
        .where('digest', '=', digestOf(ticket))
        .executeTakeFirst();
      return Number(spent.numDeletedRows) > 0;
    },

    async redeem(ticket, sessionId, use) {
      if (ticketNode(ticket, use.purpose) !== use.node) return null;
      // Deleted as it is read: a second use, here or on any node, finds nothing.
      const row = await store.db
        .deleteFrom('session_watch_tickets')
        .where('digest', '=', digestOf(ticket))
        .returningAll()
        .executeTakeFirst();
      if (row === undefined || row.session_id !== sessionId || row.expires_at <= clock.now()) {
        return null;
      }
      // The user as they are now, through the sign-in the ticket names, which must be theirs.
      const user = await store.db
        .selectFrom('tokens')
        .innerJoin('users', 'users.id', 'tokens.user_id')
        .select(['users.name', 'users.role'])
        .where('tokens.id', '=', row.token_id)
        .where('tokens.user_id', '=', row.user_id)
        .executeTakeFirst();
      if (user === undefined || !isRole(user.role)) return null;
      return {
        userId: row.user_id,
        name: user.name,
        role: user.role,
        tokenId: row.token_id,
        source: row.source,
        requestId: row.request_id,
        viaNode: row.via_node,
      };
    },
  };
}
