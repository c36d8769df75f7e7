/**
 * Every platform Tessera rotates, one connector each. A new platform is a new connector file
 * and one line here; targets, accounts and rotation find it by its `platform` name.
 */
import type { Connector } from './connector.ts';
import { createLdapConnector } from './ldap.ts';
import { createLinuxConnector } from './linux.ts';
import { createMariadbConnector } from './mariadb.ts';
import { createPostgresqlConnector } from './postgresql.ts';

export function createConnectors(): ReadonlyMap<string, Connector> {
  const connectors = [
    createPostgresqlConnector(),
    createMariadbConnector(),
    createLdapConnector(),
    createLinuxConnector(),
  ];
  return new Map(connectors.map((connector) => [connector.platform, connector]));
}
