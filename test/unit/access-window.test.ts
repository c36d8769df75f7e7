/**
 * Access windows: the pure check at its edges, on weekdays, past midnight and across the
 * daylight-saving changes of 2026 in Berlin and New York, every instant given in UTC so that the
 * test pins which wall-clock minute is meant. Then the policy API's refusals of a window it
 * cannot keep, against a real server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type AccessWindow, withinWindow } from '../../src/access/access-window.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

const at = (utc: string) => Date.parse(utc);

/** Asserts the window's answer at each UTC instant, naming the instant when it is wrong. */
function expectOpen(window: AccessWindow, cases: ReadonlyArray<readonly [string, boolean]>) {
  for (const [utc, open] of cases) {
    assert.equal(withinWindow(window, at(utc)), open, `${utc} should be ${open ? 'in' : 'out'}`);
  }
}

describe('withinWindow', () => {
  const officeBerlin: AccessWindow = {
    days: ['mon', 'tue', 'wed', 'thu', 'fri'],
    start: '08:00',
    end: '19:00',
    timeZone: 'Europe/Berlin',
  };

  it('opens at the start minute and closes at the end minute (Berlin, winter)', () => {
    // Monday 2026-01-05; CET is UTC+1.
    expectOpen(officeBerlin, [
      ['2026-01-05T06:59:00Z', false], // 07:59
      ['2026-01-05T06:59:59.999Z', false],
      ['2026-01-05T07:00:00Z', true], // 08:00, inclusive
      ['2026-01-05T07:01:00Z', true], // 08:01
      ['2026-01-05T17:59:00Z', true], // 18:59
      ['2026-01-05T17:59:59.999Z', true],
      ['2026-01-05T18:00:00Z', false], // 19:00, exclusive
      ['2026-01-05T18:01:00Z', false], // 19:01
    ]);
  });

  it('is open only on the days it names, by the local day', () => {
    expectOpen(officeBerlin, [
      ['2026-01-09T12:00:00Z', true], // Friday 13:00
      ['2026-01-10T12:00:00Z', false], // Saturday
      ['2026-01-11T12:00:00Z', false], // Sunday
      ['2026-01-12T12:00:00Z', true], // Monday
    ]);
    // Sunday 23:30 UTC is already Monday 00:30 in Tokyo: the zone's day counts, not UTC's.
    const tokyoMonday: AccessWindow = {
      days: ['mon'],
      start: '00:00',
      end: '01:00',
      timeZone: 'Asia/Tokyo',
    };
    expectOpen(tokyoMonday, [
      ['2026-01-11T15:00:00Z', true], // Monday 00:00 JST
      ['2026-01-11T14:59:00Z', false], // Sunday 23:59 JST
      ['2026-01-11T16:00:00Z', false], // Monday 01:00 JST
    ]);
  });

  it('runs a Friday 22:00-06:00 window into Saturday morning and no further', () => {
    const fridayNight: AccessWindow = {
      days: ['fri'],
      start: '22:00',
      end: '06:00',
      timeZone: 'UTC',
    };
    expectOpen(fridayNight, [
      ['2026-01-09T05:59:00Z', false], // Friday morning belongs to Thursday's window
      ['2026-01-09T21:59:00Z', false], // Friday 21:59
      ['2026-01-09T22:00:00Z', true], // Friday 22:00
      ['2026-01-09T23:59:00Z', true],
      ['2026-01-10T00:00:00Z', true], // Saturday midnight
      ['2026-01-10T05:59:00Z', true], // Saturday 05:59
      ['2026-01-10T06:00:00Z', false], // Saturday 06:00
      ['2026-01-10T22:00:00Z', false], // Saturday evening: not a day of the window
    ]);
  });

  it('wraps from Sunday night into Monday morning', () => {
    const sundayNight: AccessWindow = {
      days: ['sun'],
      start: '23:00',
      end: '01:00',
      timeZone: 'UTC',
    };
    expectOpen(sundayNight, [
      ['2026-01-11T23:00:00Z', true], // Sunday 23:00
      ['2026-01-12T00:59:00Z', true], // Monday 00:59
      ['2026-01-12T01:00:00Z', false],
      ['2026-01-12T23:30:00Z', false], // Monday night
      ['2026-01-11T00:30:00Z', false], // Sunday morning: Saturday's window, which is not one
    ]);
  });

  it('treats an end of 00:00 as midnight, the last minute before it included', () => {
    const lateFriday: AccessWindow = {
      days: ['fri'],
      start: '23:00',
      end: '00:00',
      timeZone: 'UTC',
    };
    expectOpen(lateFriday, [
      ['2026-01-09T22:59:00Z', false],
      ['2026-01-09T23:59:00Z', true],
      ['2026-01-10T00:00:00Z', false],
    ]);
  });

  it('keeps the wall clock on the spring-forward Sunday in New York (2026-03-08)', () => {
    const night: AccessWindow = {
      days: ['sun'],
      start: '01:00',
      end: '04:00',
      timeZone: 'America/New_York',
    };
    // 02:00 EST became 03:00 EDT at 07:00 UTC: three wall-clock hours, two real ones.
    expectOpen(night, [
      ['2026-03-08T05:59:00Z', false], // 00:59 EST
      ['2026-03-08T06:00:00Z', true], // 01:00 EST
      ['2026-03-08T06:59:00Z', true], // 01:59 EST
      ['2026-03-08T07:00:00Z', true], // 03:00 EDT
      ['2026-03-08T07:59:00Z', true], // 03:59 EDT
      ['2026-03-08T08:00:00Z', false], // 04:00 EDT
      ['2026-03-08T09:00:00Z', false], // 05:00 EDT, which 04:00 EST would have been
    ]);
  });

  it('opens the repeated hour twice on the fall-back Sunday in New York (2026-11-01)', () => {
    const repeated: AccessWindow = {
      days: ['sun'],
      start: '01:00',
      end: '02:00',
      timeZone: 'America/New_York',
    };
    // 02:00 EDT became 01:00 EST at 06:00 UTC: 01:00-02:00 comes round twice.
    expectOpen(repeated, [
      ['2026-11-01T04:59:00Z', false], // 00:59 EDT
      ['2026-11-01T05:00:00Z', true], // 01:00 EDT
      ['2026-11-01T05:59:00Z', true], // 01:59 EDT
      ['2026-11-01T06:00:00Z', true], // 01:00 EST
      ['2026-11-01T06:59:00Z', true], // 01:59 EST
      ['2026-11-01T07:00:00Z', false], // 02:00 EST
    ]);
  });

  it('moves with the wall clock across the spring-forward night in Berlin (2026-03-29)', () => {
    const morning: AccessWindow = {
      days: ['sat', 'sun'],
      start: '08:00',
      end: '09:00',
      timeZone: 'Europe/Berlin',
    };
    expectOpen(morning, [
      ['2026-03-28T07:00:00Z', true], // Saturday 08:00 CET
      ['2026-03-28T06:00:00Z', false], // Saturday 07:00 CET
      ['2026-03-29T06:00:00Z', true], // Sunday 08:00 CEST: an hour earlier in UTC
      ['2026-03-29T07:00:00Z', false], // Sunday 09:00 CEST
      ['2026-03-29T05:59:00Z', false], // Sunday 07:59 CEST
    ]);
    // 02:00 CET became 03:00 CEST at 01:00 UTC.
    const night: AccessWindow = {
      days: ['sun'],
      start: '01:00',
      end: '04:00',
      timeZone: 'Europe/Berlin',
    };
    expectOpen(night, [
      ['2026-03-28T23:59:00Z', false], // 00:59 CET
      ['2026-03-29T00:00:00Z', true], // 01:00 CET
      ['2026-03-29T00:59:00Z', true], // 01:59 CET
      ['2026-03-29T01:00:00Z', true], // 03:00 CEST
      ['2026-03-29T01:59:00Z', true], // 03:59 CEST
      ['2026-03-29T02:00:00Z', false], // 04:00 CEST
    ]);
    // A window inside the hour that does not exist that night never opens.
    const missing: AccessWindow = { ...night, start: '02:00', end: '03:00' };
    expectOpen(missing, [
      ['2026-03-29T00:59:00Z', false], // 01:59 CET
      ['2026-03-29T01:00:00Z', false], // 03:00 CEST
    ]);
  });

  it('runs past midnight into the spring-forward morning in Berlin by the wall clock', () => {
    const saturdayNight: AccessWindow = {
      days: ['sat'],
      start: '22:00',
      end: '06:00',
      timeZone: 'Europe/Berlin',
    };
    expectOpen(saturdayNight, [
      ['2026-03-28T20:59:00Z', false], // Saturday 21:59 CET
      ['2026-03-28T21:00:00Z', true], // Saturday 22:00 CET
      ['2026-03-29T03:59:00Z', true], // Sunday 05:59 CEST
      ['2026-03-29T04:00:00Z', false], // Sunday 06:00 CEST, 05:00 UTC would be 06:00 CET
    ]);
  });

  it('opens the repeated hour twice on the fall-back night in Berlin (2026-10-25)', () => {
    const repeated: AccessWindow = {
      days: ['sun'],
      start: '02:00',
      end: '03:00',
      timeZone: 'Europe/Berlin',
    };
    // 03:00 CEST became 02:00 CET at 01:00 UTC.
    expectOpen(repeated, [
      ['2026-10-24T23:59:00Z', false], // 01:59 CEST
      ['2026-10-25T00:00:00Z', true], // 02:00 CEST
      ['2026-10-25T00:30:00Z', true], // 02:30 CEST
      ['2026-10-25T01:30:00Z', true], // 02:30 CET
      ['2026-10-25T01:59:00Z', true], // 02:59 CET
      ['2026-10-25T02:00:00Z', false], // 03:00 CET
    ]);
    expectOpen(officeBerlin, [
      ['2026-10-23T06:00:00Z', true], // Friday 08:00 CEST
      ['2026-10-26T06:00:00Z', false], // Monday 07:00 CET
      ['2026-10-26T07:00:00Z', true], // Monday 08:00 CET
      ['2026-10-26T18:00:00Z', false], // Monday 19:00 CET
    ]);
  });
});

interface PolicyReply {
  readonly scope?: string;
  readonly window?: AccessWindow | null;
  readonly updatedAt?: string | null;
  readonly error?: { readonly code: string };
}

describe('access policy API refuses windows it cannot keep', () => {
  let server: TestServer;
  const accountPath = '/v1/targets/db01/accounts/postgres/access-policy';
  const goodWindow = {
    days: ['mon', 'tue', 'wed', 'thu', 'fri'],
    start: '08:00',
    end: '19:00',
    timeZone: 'Europe/Berlin',
  };

  before(async () => {
    server = await startTestServer();
    await server.api('POST', '/v1/safes', { body: { name: 'prod' } });
    await server.api('POST', '/v1/safes', { body: { name: 'bare' } });
    const target = { name: 'db01', platform: 'postgresql', host: '127.0.0.1', port: 5432 };
    await server.api('POST', '/v1/targets', { body: target });
    const account = { username: 'postgres', safe: 'prod', secret: 'pw-postgres' };
    const created = await server.api('POST', '/v1/targets/db01/accounts', { body: account });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const set = await server.api('PUT', accountPath, { body: { window: goodWindow } });
    assert.equal(set.status, 200, JSON.stringify(set.body));
  });
  after(() => server.stop());

  const hostile: ReadonlyArray<readonly [string, Record<string, unknown>]> = [
    ['unknown time zone', { timeZone: 'Europe/Atlantis' }],
    ['a fixed offset, not a zone', { timeZone: '+02:00' }],
    ['an empty time zone', { timeZone: '' }],
    ['a time zone too long', { timeZone: `Europe/${'x'.repeat(64)}` }],
    ['start == end', { start: '08:00', end: '08:00' }],
    ['start == end past midnight', { start: '00:00', end: '00:00' }],
    ['hour 24', { end: '24:00' }],
    ['one-digit hour', { start: '8:00' }],
    ['minute 60', { start: '08:60' }],
    ['seconds', { start: '08:00:00' }],
    ['no colon', { end: '1900' }],
    ['a trailing newline', { end: '19:00\n' }],
    ['a leading space', { start: ' 08:00' }],
    ['a number, not a string', { start: 800 }],
    ['empty days', { days: [] }],
    ['an unknown day', { days: ['mon', 'funday'] }],
    ['a capitalised day', { days: ['Mon'] }],
    ['eight days', { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun', 'mon'] }],
    ['a missing end', { end: undefined }],
    ['an unknown field', { everyOtherWeek: true }],
  ];

  it('answers VALIDATION_FAILED and stores nothing, at account and safe scope', async () => {
    const before = await server.api<PolicyReply>('GET', accountPath);
    assert.equal(before.body.scope, 'account');
    const audited = async () =>
      (
        await server.api<{ events: unknown[] }>(
          'GET',
          '/v1/audit/events?action=access-policy.&limit=1000',
        )
      ).body.events.length;
    const eventsBefore = await audited();

    for (const [what, change] of hostile) {
      const window = { ...goodWindow, ...change };
      for (const path of [accountPath, '/v1/safes/bare/access-policy']) {
        const reply = await server.api<PolicyReply>('PUT', path, { body: { window } });
        assert.equal(reply.status, 400, `${what} at ${path}: ${JSON.stringify(reply.body)}`);
        assert.equal(reply.body.error?.code, 'VALIDATION_FAILED', `${what} at ${path}`);
      }
    }

    const kept = await server.api<PolicyReply>('GET', accountPath);
    assert.deepEqual(kept.body, before.body, 'the account keeps the policy it had');
    const bare = await server.api<PolicyReply>('GET', '/v1/safes/bare/access-policy');
    assert.deepEqual([bare.body.scope, bare.body.window], ['default', null]);
    assert.equal(await audited(), eventsBefore, 'no access-policy event for a refusal');
  });
});
