/**
 * The use of an account's secret is on disk in the audit trail before the target sees it: the
 * gateway connects and exchanges keys with the target while the event is written, and logs in
 * only once it is. An event that cannot be written leaves the target without even a user name.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { useSshd } from '../support/sshd.ts';
import {
  auditEvents,
  gatewayUser,
  type Harness,
  linuxAccount,
  sshThrough,
  startHarness,
} from './support.ts';

describe('ssh gateway: the audit event before the login', () => {
  const sshd = useSshd();
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h?.stop());

  it('sends the target nothing of the account while its use cannot be audited', async () => {
    const password = `Pw-${randomBytes(12).toString('base64url')}`;
    const linux = await sshd().createUser('tga', { password });
    const user = await gatewayUser(h);
    const { login } = await linuxAccount(h, sshd(), {
      user: user.name,
      secret: password,
      secretType: 'password',
      linuxUser: linux.name,
    });
    const { db } = h.server.services.store;
    // The audit trail refuses this one kind of event, as a full or failing disk would all.
    await sql`create trigger no_connect_event before insert on audit_events
      when new.action = 'account.connect'
      begin select raise(abort, 'the disk is full'); end`.execute(db);
    try {
      const refused = await sshThrough(h, user.key.file, login, { command: 'echo ran' });
      assert.notEqual(refused.code, 0);
      assert.doesNotMatch(refused.stdout, /ran/);
      assert.match(refused.stderr, /the audit trail cannot be written, so no session can start/);
      assert.ok(
        !sshd().readLog().includes(linux.name),
        'the target was told the login name (or more) before the use was audited',
      );
      const refusals = (await auditEvents(h, 'session.refuse')).filter(
        (e) => e.actor_name === user.name,
      );
      assert.equal(refusals.at(-1)?.details.why, 'audit-unavailable');
    } finally {
      await sql`drop trigger no_connect_event`.execute(db);
    }

    const ran = await sshThrough(h, user.key.file, login, { command: 'echo ran' });
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(ran.stdout, 'ran\n');
    assert.match(
      sshd().readLog(),
      new RegExp(`Accepted (password|keyboard-interactive\\S*) for ${linux.name}`),
    );
    const connects = (await auditEvents(h, 'account.connect')).filter(
      (e) => e.actor_name === user.name,
    );
    assert.equal(connects.length, 1, 'one event for the login that happened');
  });
});
