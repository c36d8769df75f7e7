import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../clock.ts';
import type { Role } from '../identity/principal.ts';

/** The console's terminal logs in to the gateway with this: one use, within this time. */
export const CONSOLE_TICKET_TTL_MS = 30_000;
const TICKET_PREFIX = 'tsr-console-';

export interface ConsoleTicketHolder {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  /** The console login token the terminal runs under: its end ends the session. */
  readonly tokenId: string;
  /** The browser's address, recorded as the session's source instead of the loopback relay. */
  readonly source: string | null;
}

/**
 * One-time tickets that let the web console's terminal open a session through this node's own
 * SSH gateway as the signed-in user, so a browser session is a gateway session in every way:
 * the same access decision, policy, recording, live watch and kill. A ticket names the user and
 * the login name (ACCOUNT@TARGET) it was made for, is 256 random bits, lives 30 seconds, works
 * once, and exists only in this process's memory: it never leaves the node.
 */
export interface ConsoleTickets {
  issue(holder: ConsoleTicketHolder, login: string): string;
  /** The holder, once, for a ticket made for this login; null for anything else. */
  redeem(ticket: string, login: string): ConsoleTicketHolder | null;
}

interface Issued {
  readonly holder: ConsoleTicketHolder;
  readonly login: string;
  readonly expiresAt: number;
  readonly digest: Buffer;
}

export function createConsoleTickets(deps: { clock: Clock }): ConsoleTickets {
  // Keyed by a digest of the ticket, so the map never holds a usable ticket.
  const issued = new Map<string, Issued>();

  const sweep = (now: number) => {
    for (const [key, entry] of issued) if (entry.expiresAt <= now) issued.delete(key);
  };

  return {
    issue(holder, login) {
      const now = deps.clock.now();
      sweep(now);
      const ticket = TICKET_PREFIX + randomBytes(32).toString('base64url');
      const digest = digestOf(ticket);
      issued.set(digest.toString('hex'), {
        holder,
        login,
        expiresAt: now + CONSOLE_TICKET_TTL_MS,
        digest,
      });
      return ticket;
    },

    redeem(ticket, login) {
      if (!ticket.startsWith(TICKET_PREFIX) || ticket.length > 128) return null;
      const digest = digestOf(ticket);
      const key = digest.toString('hex');
      const entry = issued.get(key);
      if (entry === undefined) return null;
      // Spent whether or not it matches: a ticket is tried once.
      issued.delete(key);
      const fresh = entry.expiresAt > deps.clock.now();
      const same = timingSafeEqual(entry.digest, digest) && entry.login === login;
      return fresh && same ? entry.holder : null;
    },
  };
}

function digestOf(ticket: string): Buffer {
  return createHash('sha256').update(ticket).digest();
}
