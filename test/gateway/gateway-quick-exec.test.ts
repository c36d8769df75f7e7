/**
 * A command that ends before the gateway has stored its session row still hands its output and
 * exit status to the user: the target's exit is watched from the moment its channel opens.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { useSshd } from '../support/sshd.ts';
import { gatewayUser, type Harness, linuxAccount, sshThrough, startHarness } from './support.ts';

const RUNS = 30;

describe('ssh gateway: commands that end at once', () => {
  const sshd = useSshd();
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h?.stop());

  it(`passes the exit status of ${RUNS} instant commands back, every time`, async () => {
    const password = `Pw-${randomBytes(12).toString('base64url')}`;
    const linux = await sshd().createUser('tqx', { password });
    const user = await gatewayUser(h);
    const { login } = await linuxAccount(h, sshd(), {
      user: user.name,
      secret: password,
      secretType: 'password',
      linuxUser: linux.name,
    });

    const codes: Array<number | null> = [];
    for (let run = 0; run < RUNS; run++) {
      const result = await sshThrough(h, user.key.file, login, { command: `exit ${run % 4}` });
      codes.push(result.code);
    }
    assert.deepEqual(
      codes,
      Array.from({ length: RUNS }, (_, run) => run % 4),
    );
  });
});
