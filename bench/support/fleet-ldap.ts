import { createHash, randomBytes } from 'node:crypto';
import { Client } from 'ldapts';
import { startSlapd } from '../../test/support/slapd.ts';
import { type BenchAccount, type Fleet, setupPassword } from './mixed-fleet.ts';

const CLIENT_TIMEOUT_MS = 5_000;

/**
 * People entries on a throw-away slapd; the server's `cn=tessera-rec` may write every
 * userPassword and is the reconcile account. User names are uids, turned into DNs by the
 * target's `userDnTemplate`, so no login needs a search first.
 */
export async function startLdapFleet(tag: string): Promise<Fleet> {
  const slapd = await startSlapd();
  const accounts: BenchAccount[] = [];
  return {
    platform: 'ldap',
    target: {
      name: 'mix-ldap',
      platform: 'ldap',
      host: slapd.host,
      port: slapd.port,
      options: { baseDn: slapd.suffix, userDnTemplate: `uid={username},${slapd.peopleDn}` },
    },
    reconcile: { username: slapd.reconciler.dn, password: slapd.reconciler.password },
    accounts,
    async grow(count) {
      const client = new Client({
        url: slapd.url,
        timeout: CLIENT_TIMEOUT_MS,
        connectTimeout: CLIENT_TIMEOUT_MS,
      });
      try {
        await client.bind(slapd.admin.dn, slapd.admin.password);
        for (let i = accounts.length; i < count; i++) {
          const account = { username: `bmx-${tag}-${i}`, password: setupPassword() };
          await client.add(`uid=${account.username},${slapd.peopleDn}`, {
            objectClass: ['inetOrgPerson'],
            uid: account.username,
            cn: account.username,
            sn: account.username,
            userPassword: sshaHash(account.password),
          });
          accounts.push(account);
        }
      } finally {
        await client.unbind().catch(() => undefined);
      }
    },
    // The entries live in the server's own database folder, removed with it.
    close: () => slapd.stop(),
  };
}

/** `{SSHA}`, as slapd itself stores a password set through Password Modify here. */
function sshaHash(password: string): string {
  const salt = randomBytes(8);
  const digest = createHash('sha1').update(password).update(salt).digest();
  return `{SSHA}${Buffer.concat([digest, salt]).toString('base64')}`;
}
