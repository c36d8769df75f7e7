/**
 * Break-glass over the API with a clock the test controls, on both stores: which accounts and
 * persons may open it, the reason and the second factor it takes, access at once for exactly the
 * policy's window despite an approval policy, a signed critical alert to every webhook, the end
 * of the window with its rotation, the auditors' review, the report and the audit trail.
 * Then, against a real SCRAM PostgreSQL cluster, that the rotation really changes the password.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Secret, TOTP } from 'otpauth';
import { verifyWebhookSignature } from '../../src/integrations/webhooks.ts';
import { type PgCluster, uniqueRoleName, usePgCluster } from '../support/pg-cluster.ts';
import { logsIn } from '../support/pg-login.ts';
import { STORE_KINDS } from '../support/stores.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

interface ErrorReply {
  readonly error?: { readonly code: string; readonly message: string };
}

interface BreakglassView extends ErrorReply {
  readonly id: string;
  readonly grantId: string;
  readonly account: string;
  readonly user: string;
  readonly reason: string;
  readonly secondFactor: boolean;
  readonly openedAt: string;
  readonly endsAt: string;
  readonly closedAt: string | null;
  readonly rotationRequestedAt: string | null;
  readonly reviewState: string;
  readonly outcome: string | null;
  readonly reviewNotes: string | null;
  readonly reviewedBy: string | null;
}

interface AccountView {
  readonly needsRotation: boolean;
  readonly state: string;
  readonly lastRotationError: string | null;
  readonly nextRotationAt: string | null;
  readonly currentVersion: number | null;
}

interface AuditEvent {
  readonly action: string;
  readonly outcome: string;
  readonly actor: string | null;
  readonly object: string | null;
  readonly reason: string | null;
  readonly details: Record<string, unknown> | null;
}

interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

const SECOND_MS = 1_000;
/** A TOTP code's time step. */
const STEP_MS = 30 * SECOND_MS;
const BREAKGLASS_S = 900;
const BASE = '/v1/targets/db01/accounts';

/** What an authenticator app shows at `at` (SHA-1, 6 digits, 30 s). */
const codeAt = (secret: string, at: number) =>
  TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: at });

/** A six-digit code that is not `code`, nor with near certainty a neighbouring step's. */
const wrongCode = (code: string) =>
  code
    .split('')
    .map((d) => String((Number(d) + 5) % 10))
    .join('');

for (const store of STORE_KINDS) {
  describe(`break-glass on ${store}`, () => {
    let server: TestServer;
    let receiver: Receiver;
    let deadTarget: DeadTarget;
    let now = Date.parse('2026-12-02T10:00:00Z');
    const tokens: Record<string, string> = {};
    /** Everything erin typed or was shown for her second factor, for the leak searches. */
    const codes: string[] = [];
    /** The codes erin signed in with after her factor was confirmed. */
    const loginCodes: string[] = [];
    let totpSecret = '';
    let totpUri = '';
    let webhookKey = '';
    let opened: BreakglassView | undefined;
    const openedEvent = () => {
      assert.ok(opened, 'the break-glass of an earlier test was opened');
      return opened;
    };

    const people: ReadonlyArray<readonly [string, 'user' | 'auditor']> = [
      ['alice', 'user'],
      ['erin', 'user'],
      ['dave', 'user'],
      ['mallory', 'user'],
      ['audrey', 'auditor'],
      ['aurelia', 'auditor'],
      ['erin-audit', 'auditor'],
    ];

    before(async () => {
      receiver = await startReceiver();
      deadTarget = await startDeadTarget();
      server = await startTestServer({ store, clock: { now: () => now } });
      for (const [name, role] of people) {
        const created = await server.api('POST', '/v1/users', {
          body: { name, role, password: pw(name) },
        });
        assert.equal(created.status, 201, JSON.stringify(created.body));
      }
      await relogin();
      // erin's auditor login is erin: she must not review her own break-glass by it.
      const linked = await server.api('PUT', '/v1/users/erin-audit/person', {
        body: { sameAs: 'erin' },
      });
      assert.equal(linked.status, 200, JSON.stringify(linked.body));

      await server.api('POST', '/v1/safes', { body: { name: 'prod' } });
      const members: Record<string, string[]> = {
        alice: ['list', 'use', 'retrieve', 'checkout'],
        erin: ['list', 'use', 'retrieve', 'checkout'],
        dave: ['list'],
      };
      for (const [user, permissions] of Object.entries(members)) {
        await server.api('PUT', `/v1/safes/prod/members/${user}`, { body: { permissions } });
      }
      const target = {
        name: 'db01',
        platform: 'postgresql',
        host: '127.0.0.1',
        port: deadTarget.port,
      };
      assert.equal((await server.api('POST', '/v1/targets', { body: target })).status, 201);
      await server.api('PUT', '/v1/policies/keep', {
        body: { rotateOnCheckin: false, rotateOnCheckoutExpiry: false },
      });
      for (const username of ['postgres', 'app']) {
        const body = { username, safe: 'prod', policy: 'keep', secret: `pw-${username}` };
        assert.equal((await server.api('POST', BASE, { body })).status, 201);
      }
      const policy = await server.api('PUT', `${BASE}/postgres/access-policy`, {
        body: {
          approvalFor: ['use', 'retrieve', 'checkout'],
          approvalsRequired: 1,
          breakglassWindowS: BREAKGLASS_S,
        },
      });
      assert.equal(policy.status, 200, JSON.stringify(policy.body));

      // Any subscription will do: a critical alert goes to every webhook.
      const hook = await server.api<{ key: string }>('POST', '/v1/webhooks', {
        body: { name: 'soc', url: receiver.url('/soc'), events: ['request.'] },
      });
      assert.equal(hook.status, 201, JSON.stringify(hook.body));
      webhookKey = hook.body.key;
    });
    after(async () => {
      await server.stop();
      await receiver.close();
      await deadTarget.close();
    });

    const pw = (name: string) => `pw-${name}-long-enough`;
    /**
     * Login tokens live an hour by the same clock: the tests that move it log in again. Once
     * erin's second factor is confirmed, her login takes a code as well.
     */
    const relogin = async () => {
      for (const [name] of people) {
        const code = name === 'erin' ? await erinsNextCode() : undefined;
        const login = await server.api<{ token: string }>('POST', '/v1/auth/login', {
          token: null,
          body: { user: name, password: pw(name), ...(code === undefined ? {} : { code }) },
        });
        assert.equal(login.status, 200, JSON.stringify(login.body));
        tokens[name] = login.body.token;
      }
    };
    /**
     * The code of the earliest step erin has not used yet that the window still accepts: each
     * code is taken once, and some tests log in twice without the clock leaving its step.
     */
    const erinsNextCode = async (): Promise<string | undefined> => {
      const erin = await server.services.users.findByName('erin');
      assert.ok(erin);
      if (!(await server.services.mfa.hasFactor(erin.id))) return undefined;
      const row = await server.services.store.db
        .selectFrom('user_mfa')
        .select('last_step')
        .where('user_id', '=', erin.id)
        .executeTakeFirstOrThrow();
      const current = Math.floor(now / STEP_MS);
      const step = Math.max(Number(row.last_step ?? 0) + 1, current - 1);
      assert.ok(step <= current + 1, 'erin has used every code the window accepts');
      const code = codeAt(totpSecret, step * STEP_MS);
      loginCodes.push(code);
      return code;
    };
    const as = (user: string) => tokens[user] as string;
    const open = (user: string, body: Record<string, unknown>, account = 'postgres') =>
      server.api<BreakglassView>('POST', `${BASE}/${account}/breakglass`, {
        token: as(user),
        body,
      });
    const reveal = (user: string) =>
      server.api<ErrorReply & { value?: string }>('POST', `${BASE}/postgres/reveal`, {
        token: as(user),
        body: { reason: 'looking' },
      });
    const review = (token: string, id: string, body?: Record<string, unknown>) =>
      server.api<BreakglassView>('POST', `/v1/breakglass/${id}/review`, {
        token,
        body: body ?? { outcome: 'justified', notes: 'INC-7 primary down; checked the session' },
      });
    const events = async () =>
      (await server.api<{ events: BreakglassView[] }>('GET', '/v1/breakglass')).body.events;
    const audit = async (action: string) =>
      (
        await server.api<{ events: AuditEvent[] }>(
          'GET',
          `/v1/audit/events?action=${action}&limit=1000`,
        )
      ).body.events;
    /**
     * One full access tick that started after the clock moved: the server's own ticker may be
     * half-way through one that read the clock before, and tickNow joins a tick under way.
     */
    const tickAccess = async () => {
      await server.services.accessTicker.tickNow();
      await server.services.accessTicker.tickNow();
    };

    it('marks an account for break-glass; only an admin may', async () => {
      const byUser = await server.api<ErrorReply>('PUT', `${BASE}/postgres/breakglass`, {
        token: as('alice'),
        body: { enabled: true },
      });
      assert.deepEqual([byUser.status, byUser.body.error?.code], [403, 'FORBIDDEN']);
      const byAuditor = await server.api('PUT', `${BASE}/postgres/breakglass`, {
        token: as('audrey'),
        body: { enabled: true },
      });
      assert.equal(byAuditor.status, 403);

      const marked = await server.api('PUT', `${BASE}/postgres/breakglass`, {
        body: { enabled: true },
      });
      assert.deepEqual(
        [marked.status, marked.body],
        [200, { account: 'db01/postgres', enabled: true }],
      );
      const trail = await audit('account.breakglass');
      assert.deepEqual(
        trail.map((e) => [e.outcome, e.object, e.details?.enabled]),
        [['success', 'db01/postgres', true]],
      );
    });

    it('refuses an unmarked account, a member without use, an auditor and a stranger', async () => {
      const body = { reason: 'primary down' };
      const unmarked = await open('alice', body, 'app');
      assert.deepEqual([unmarked.status, unmarked.body.error?.code], [403, 'FORBIDDEN']);
      const listOnly = await open('dave', body);
      assert.deepEqual([listOnly.status, listOnly.body.error?.code], [403, 'FORBIDDEN']);
      const auditor = await open('audrey', body);
      assert.equal(auditor.status, 403);
      // Not a member: the account is "not found", word for word as a missing one.
      const stranger = await open('mallory', body);
      const missing = await open('mallory', body, 'nosuch');
      assert.deepEqual([stranger.status, stranger.body.error?.code], [404, 'NOT_FOUND']);
      assert.equal(stranger.body.error?.message, missing.body.error?.message);

      assert.deepEqual(await events(), [], 'no break-glass event');
      const grants = await server.api<{ grants: unknown[] }>('GET', '/v1/grants');
      assert.deepEqual(grants.body.grants, [], 'no grant');
    });

    it('needs a reason', async () => {
      for (const body of [{}, { reason: '' }, { reason: '   ' }]) {
        const reply = await open('alice', body);
        assert.deepEqual(
          [reply.status, reply.body.error?.code],
          [400, 'VALIDATION_FAILED'],
          JSON.stringify(body),
        );
      }
      assert.deepEqual(await events(), []);
    });

    it('asks a user with a confirmed factor for a code, and refuses a wrong one', async () => {
      const enrolled = await server.api<{ secret: string; uri: string }>(
        'POST',
        '/v1/auth/mfa/enroll',
        { token: as('erin') },
      );
      assert.equal(enrolled.status, 201, JSON.stringify(enrolled.body));
      totpSecret = enrolled.body.secret;
      totpUri = enrolled.body.uri;
      const confirmCode = codeAt(totpSecret, now);
      codes.push(confirmCode);
      const confirmed = await server.api('POST', '/v1/auth/mfa/confirm', {
        token: as('erin'),
        body: { code: confirmCode },
      });
      assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));
      now += 30 * SECOND_MS;

      const reason = 'INC-7 primary down, on-call has no approver';
      const noCode = await open('erin', { reason });
      assert.deepEqual([noCode.status, noCode.body.error?.code], [401, 'MFA_REQUIRED']);
      const emptyCode = await open('erin', { reason, code: '' });
      assert.deepEqual([emptyCode.status, emptyCode.body.error?.code], [401, 'MFA_REQUIRED']);
      const wrong = wrongCode(codeAt(totpSecret, now));
      codes.push(wrong);
      const refused = await open('erin', { reason, code: wrong });
      assert.deepEqual([refused.status, refused.body.error?.code], [401, 'MFA_INVALID']);

      assert.deepEqual(await events(), []);
      assert.equal((await reveal('erin')).body.error?.code, 'APPROVAL_REQUIRED');
    });

    it('opens at once with the right code, although the policy wants an approval', async () => {
      assert.equal((await reveal('erin')).body.error?.code, 'APPROVAL_REQUIRED');
      const code = codeAt(totpSecret, now);
      codes.push(code);
      const reason = 'INC-7 primary down, on-call has no approver';
      const reply = await open('erin', { reason, code: ` ${code} ` });
      assert.equal(reply.status, 201, JSON.stringify(reply.body));
      opened = reply.body;
      assert.equal(opened.account, 'db01/postgres');
      assert.equal(opened.user, 'erin');
      assert.equal(opened.reason, reason);
      assert.equal(opened.secondFactor, true);
      assert.equal(opened.openedAt, new Date(now).toISOString());
      assert.equal(opened.endsAt, new Date(now + BREAKGLASS_S * SECOND_MS).toISOString());
      assert.deepEqual(
        [opened.closedAt, opened.rotationRequestedAt, opened.reviewState],
        [null, null, 'open'],
      );

      const revealed = await reveal('erin');
      assert.equal(revealed.status, 200, JSON.stringify(revealed.body));
      assert.equal(revealed.body.value, 'pw-postgres');
      // Nobody else's access changed.
      assert.equal((await reveal('alice')).body.error?.code, 'APPROVAL_REQUIRED');
      // The code is used up: it opens nothing a second time.
      const replay = await open('erin', { reason, code });
      assert.deepEqual([replay.status, replay.body.error?.code], [401, 'MFA_INVALID']);

      const grants = await server.api<{ grants: Array<Record<string, unknown>> }>(
        'GET',
        '/v1/grants?active=true',
        { token: as('erin') },
      );
      assert.deepEqual(
        grants.body.grants.map((g) => [g.id, g.kind, g.account, g.remainingS]),
        [[opened.grantId, 'breakglass', 'db01/postgres', BREAKGLASS_S]],
      );
      // Reviewed only once the window closed: not while it is open, not even by an auditor.
      const early = await review(as('audrey'), opened.id);
      assert.deepEqual([early.status, early.body.error?.code], [409, 'CONFLICT']);
    });

    it('alerts every webhook with a signed, critical breakglass.opened', async () => {
      const event = openedEvent();
      await server.services.webhookDispatcher.tickNow();
      const alerts = receiver.received.filter(
        (r) => r.headers['x-tessera-event'] === 'breakglass.opened',
      );
      assert.equal(alerts.length, 1, 'one alert, to the webhook subscribed to requests only');
      const [alert] = alerts;
      assert.ok(alert);
      const timestamp = String(alert.headers['x-tessera-timestamp']);
      const signature = String(alert.headers['x-tessera-signature']);
      assert.ok(verifyWebhookSignature(webhookKey, timestamp, alert.body, signature));
      const expected = createHmac('sha256', webhookKey)
        .update(`${timestamp}.${alert.body}`)
        .digest('hex');
      assert.equal(signature, `sha256=${expected}`);
      assert.ok(!verifyWebhookSignature(`${webhookKey}x`, timestamp, alert.body, signature));

      const body = JSON.parse(alert.body) as {
        event: string;
        severity: string;
        data: Record<string, unknown>;
      };
      assert.equal(body.event, 'breakglass.opened');
      assert.equal(body.severity, 'critical');
      assert.deepEqual(body.data, {
        breakglass: event.id,
        account: 'db01/postgres',
        user: 'erin',
        reason: event.reason,
        secondFactor: true,
        endsAt: event.endsAt,
      });
      for (const text of [...codes, totpSecret]) {
        assert.ok(!alert.body.includes(`"${text}"`), 'no code or secret in the alert');
      }
    });

    it("ends at the window's end; the rotation fails (target down) and stays due", async () => {
      const event = openedEvent();
      const openedAt = Date.parse(event.openedAt);
      now = openedAt + BREAKGLASS_S * SECOND_MS - 1;
      await relogin();
      assert.equal((await reveal('erin')).status, 200, 'open until its last millisecond');

      now = openedAt + BREAKGLASS_S * SECOND_MS;
      await relogin();
      // The decision point goes by the clock: refused before any tick closes the event.
      assert.equal((await reveal('erin')).body.error?.code, 'APPROVAL_REQUIRED');

      await tickAccess();
      const closed = await server.api<BreakglassView>('GET', `/v1/breakglass/${event.id}`);
      assert.equal(closed.status, 200);
      assert.equal(closed.body.closedAt, new Date(now).toISOString());
      assert.equal(closed.body.rotationRequestedAt, new Date(now).toISOString());
      assert.equal(closed.body.reviewState, 'open');
      const grant = await server.api<{ active: boolean }>('GET', `/v1/grants/${event.grantId}`);
      assert.equal(grant.body.active, false);

      const account = await server.api<AccountView>('GET', `${BASE}/postgres`);
      assert.equal(account.body.needsRotation, true, 'marked for rotation');
      assert.equal(account.body.state, 'rotation_failed');
      assert.ok(account.body.lastRotationError, 'the failed attempt is on record');
      assert.ok(
        Date.parse(account.body.nextRotationAt ?? '') > now,
        'a retry is scheduled for later',
      );
      assert.equal(account.body.currentVersion, 1, 'the vault keeps the value it had');
      const rotations = (await audit('account.rotate')).filter((e) => e.object === 'db01/postgres');
      const attempted = rotations.find((e) => e.action === 'account.rotate.pending');
      assert.equal(attempted?.details?.origin, 'breakglass', 'the break-glass asked for it');
      assert.deepEqual(
        rotations.filter((e) => e.action === 'account.rotate').map((e) => e.outcome),
        ['failure'],
      );
      assert.equal((await reveal('erin')).body.error?.code, 'APPROVAL_REQUIRED');

      // Ticking again neither closes it twice nor asks for another rotation.
      await tickAccess();
      const again = await server.api<BreakglassView>('GET', `/v1/breakglass/${event.id}`);
      assert.deepEqual(again.body, closed.body);
      assert.equal((await audit('breakglass.close')).length, 1);
    });

    it('is reviewed by an auditor only, never by the opener or an admin, and once', async () => {
      const { id } = openedEvent();
      const byOpener = await review(as('erin'), id);
      assert.deepEqual([byOpener.status, byOpener.body.error?.code], [403, 'FORBIDDEN']);
      const byAdmin = await review(server.rootToken, id);
      assert.deepEqual([byAdmin.status, byAdmin.body.error?.code], [403, 'FORBIDDEN']);
      const byUser = await review(as('alice'), id);
      assert.equal(byUser.status, 403);
      const byOpenersAuditLogin = await review(as('erin-audit'), id);
      assert.deepEqual(
        [byOpenersAuditLogin.status, byOpenersAuditLogin.body.error?.code],
        [403, 'SELF_APPROVAL'],
      );
      const badOutcome = await review(as('audrey'), id, { outcome: 'fine', notes: 'x' });
      assert.deepEqual(
        [badOutcome.status, badOutcome.body.error?.code],
        [400, 'VALIDATION_FAILED'],
      );
      const noNotes = await review(as('audrey'), id, { outcome: 'justified', notes: ' ' });
      assert.equal(noNotes.status, 400);
      assert.equal((await events())[0]?.reviewState, 'open', 'nothing refused changed it');

      now += 60 * SECOND_MS;
      await relogin();
      const reviewed = await review(as('audrey'), id);
      assert.equal(reviewed.status, 200, JSON.stringify(reviewed.body));
      assert.deepEqual(
        [
          reviewed.body.reviewState,
          reviewed.body.outcome,
          reviewed.body.reviewedBy,
          reviewed.body.reviewNotes,
        ],
        ['closed', 'justified', 'audrey', 'INC-7 primary down; checked the session'],
      );
      for (const token of [as('audrey'), as('aurelia')]) {
        const twice = await review(token, id, { outcome: 'unjustified', notes: 'overrule' });
        assert.deepEqual([twice.status, twice.body.error?.code], [409, 'ALREADY_DECIDED']);
      }
      const kept = await server.api<BreakglassView>('GET', `/v1/breakglass/${id}`);
      assert.equal(kept.body.outcome, 'justified');
    });

    it('reports every opening with its review and counts the unreviewed', async () => {
      const first = openedEvent();
      // A second opening, by a user without a second factor, left unreviewed.
      now += 60 * SECOND_MS;
      await relogin();
      const second = await open('alice', { reason: 'INC-8 replica lag' });
      assert.equal(second.status, 201, JSON.stringify(second.body));
      assert.equal(second.body.secondFactor, false);

      const forUser = await server.api('GET', '/v1/reports/breakglass', { token: as('alice') });
      assert.equal(forUser.status, 403);
      const report = await server.api<{
        total: number;
        unreviewed: number;
        events: BreakglassView[];
      }>('GET', '/v1/reports/breakglass', { token: as('audrey') });
      assert.equal(report.status, 200, JSON.stringify(report.body));
      assert.deepEqual([report.body.total, report.body.unreviewed], [2, 1]);
      assert.deepEqual(
        report.body.events.map((e) => [e.id, e.user, e.reviewState, e.outcome, e.reviewedBy]),
        [
          [second.body.id, 'alice', 'open', null, null],
          [first.id, 'erin', 'closed', 'justified', 'audrey'],
        ],
      );
      const since = new Date(Date.parse(first.openedAt) + 1).toISOString();
      const later = await server.api<{ total: number; unreviewed: number }>(
        'GET',
        `/v1/reports/breakglass?from=${since}`,
        { token: as('audrey') },
      );
      assert.deepEqual([later.body.total, later.body.unreviewed], [1, 1]);
      const backwards = await server.api<ErrorReply>(
        'GET',
        `/v1/reports/breakglass?from=${since}&to=${first.openedAt}`,
      );
      assert.equal(backwards.body.error?.code, 'VALIDATION_FAILED');
      const pending = await server.api<{ events: BreakglassView[] }>(
        'GET',
        '/v1/breakglass?open=true',
        { token: as('audrey') },
      );
      assert.deepEqual(
        pending.body.events.map((e) => e.id),
        [second.body.id],
      );
    });

    it('audits opening, refusal, closing and review, never with a code or the secret', async () => {
      const { id } = openedEvent();
      const opens = await audit('breakglass.open');
      const erins = opens.filter((e) => e.actor === 'erin');
      assert.deepEqual(erins.map((e) => [e.outcome, e.details?.code ?? null]).sort(), [
        ['denied', 'MFA_INVALID'],
        ['denied', 'MFA_INVALID'],
        ['denied', 'MFA_REQUIRED'],
        ['denied', 'MFA_REQUIRED'],
        ['success', null],
      ]);
      const success = erins.find((e) => e.outcome === 'success');
      assert.equal(success?.object, 'db01/postgres');
      assert.equal(success?.reason, 'INC-7 primary down, on-call has no approver');
      assert.deepEqual(
        [success?.details?.severity, success?.details?.breakglass, success?.details?.secondFactor],
        ['critical', id, true],
      );
      assert.ok(opens.some((e) => e.actor === 'alice' && e.outcome === 'success'));

      const closes = await audit('breakglass.close');
      assert.deepEqual(
        closes.map((e) => [e.outcome, e.details?.user, e.details?.why]),
        [['success', 'erin', 'expired']],
      );
      const reviews = await audit('breakglass.review');
      assert.deepEqual(
        reviews.map((e) => [e.outcome, e.actor, e.details?.outcome, e.details?.user]),
        [['success', 'audrey', 'justified', 'erin']],
      );

      // Field by field for the events that saw a code; the whole trail and log for the secret.
      assert.equal(codes.length, 3);
      assert.ok(loginCodes.length > 0, 'erin never signed in with a code');
      const sawCodes = [...opens, ...(await audit('mfa.'))];
      for (const event of sawCodes) {
        const fields = JSON.stringify([event.actor, event.object, event.reason, event.details]);
        for (const code of [...codes, ...loginCodes]) {
          assert.ok(!fields.includes(code), `a code in ${event.action}`);
        }
      }
      const trail = JSON.stringify((await server.api('GET', '/v1/audit/events?limit=1000')).body);
      const log = server.logText();
      for (const haystack of [trail, log]) {
        assert.ok(!haystack.includes(totpSecret), 'the TOTP secret leaked');
        assert.ok(!haystack.includes(totpUri), 'the TOTP URI leaked');
        for (const code of [...codes, ...loginCodes]) {
          assert.ok(!haystack.includes(`"${code}"`), 'a code leaked');
        }
      }
    });
  });
}

/**
 * The same ending against a real PostgreSQL role: the password the opener could see stops
 * working, and the vault's new value logs in.
 */
describe('break-glass against a real PostgreSQL cluster', () => {
  const cluster = usePgCluster();
  let server: TestServer;
  let now = Date.parse('2026-12-02T10:00:00Z');
  const role = uniqueRoleName('bg');
  const password = `Init-${Date.now().toString(36)}-kept-by-the-opener`;
  const tokens: Record<string, string> = {};

  before(async () => {
    server = await startTestServer({ clock: { now: () => now } });
    const c: PgCluster = cluster();
    await c.createRole(role, password);
    for (const name of ['alice', 'keeper']) {
      await server.api('POST', '/v1/users', { body: { name, role: 'user', password: pw(name) } });
    }
    await server.api('POST', '/v1/safes', { body: { name: 'ops' } });
    const members: Record<string, string[]> = {
      alice: ['list', 'use', 'retrieve', 'checkout'],
      keeper: ['list', 'retrieve'],
    };
    for (const [user, permissions] of Object.entries(members)) {
      await server.api('PUT', `/v1/safes/ops/members/${user}`, { body: { permissions } });
    }
    const target = { name: 'pg', platform: 'postgresql', host: c.host, port: c.port };
    assert.equal((await server.api('POST', '/v1/targets', { body: target })).status, 201);
    const account = { username: role, safe: 'ops', secret: password };
    assert.equal(
      (await server.api('POST', '/v1/targets/pg/accounts', { body: account })).status,
      201,
    );
    const path = `/v1/targets/pg/accounts/${role}`;
    const policy = await server.api('PUT', `${path}/access-policy`, {
      body: { breakglassWindowS: 60 },
    });
    assert.equal(policy.status, 200, JSON.stringify(policy.body));
    await server.api('PUT', `${path}/breakglass`, { body: { enabled: true } });
  });
  // The cluster, and the role with it, goes with the suite.
  after(() => server?.stop());

  const pw = (name: string) => `pw-${name}-long-enough`;
  const relogin = async () => {
    for (const name of ['alice', 'keeper']) {
      const login = await server.api<{ token: string }>('POST', '/v1/auth/login', {
        token: null,
        body: { user: name, password: pw(name) },
      });
      tokens[name] = login.body.token;
    }
  };

  it('rotates the role at the end: the password the opener saw stops working', async () => {
    await relogin();
    const path = `/v1/targets/pg/accounts/${role}`;
    const opened = await server.api<BreakglassView>('POST', `${path}/breakglass`, {
      token: tokens.alice,
      body: { reason: 'INC-9 locked out' },
    });
    assert.equal(opened.status, 201, JSON.stringify(opened.body));
    const seen = await server.api<{ value: string }>('POST', `${path}/reveal`, {
      token: tokens.alice,
      body: { reason: 'INC-9' },
    });
    assert.equal(seen.body.value, password);
    assert.equal(await logsIn(cluster(), role, password), true, 'it works while the window runs');

    now += 60 * SECOND_MS;
    await relogin();
    await server.services.accessTicker.tickNow();
    await server.services.accessTicker.tickNow();

    const event = await server.api<BreakglassView>('GET', `/v1/breakglass/${opened.body.id}`);
    assert.equal(event.body.closedAt, new Date(now).toISOString());
    const account = await server.api<AccountView>('GET', path);
    assert.deepEqual(
      [account.body.currentVersion, account.body.needsRotation, account.body.state],
      [2, false, 'ok'],
    );
    const fresh = await server.api<{ value: string }>('POST', `${path}/reveal`, {
      token: tokens.keeper,
      body: { reason: 'check' },
    });
    assert.equal(fresh.status, 200, JSON.stringify(fresh.body));
    assert.notEqual(fresh.body.value, password);
    const c = cluster();
    assert.equal(await logsIn(c, role, password), false, "the opener's password is refused");
    assert.equal(await logsIn(c, role, fresh.body.value), true, "the vault's value logs in");
  });
});

interface Receiver {
  readonly received: Received[];
  url(path: string): string;
  close(): Promise<void>;
}

/** A webhook receiver on 127.0.0.1 that records every request and answers 204. */
async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      response.writeHead(204);
      response.end();
    });
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    received,
    url: (path) => `http://127.0.0.1:${address.port}${path}`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

interface DeadTarget {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * A loopback port of the test's own that hangs up on every connection: the database target that
 * is down, so the rotation at the end of break-glass fails here and reaches nothing else.
 */
async function startDeadTarget(): Promise<DeadTarget> {
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.destroy();
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
