import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import { createAccessDecision } from './access/access-decision.ts';
import { createAccessPolicyService } from './access/access-policies.ts';
import { createBreakglassService } from './access/breakglass.ts';
import { createEphemeralService } from './access/ephemeral.ts';
import { createAccessTicker, endGrantsWith } from './access/grant-endings.ts';
import { createGrantService } from './access/grants.ts';
import { createGroupService } from './access/groups.ts';
import { createRequestService } from './access/requests.ts';
import { createSafeService } from './access/safes.ts';
import { createAccountService } from './accounts/account-service.ts';
import { createCheckoutService } from './accounts/checkout-service.ts';
import { createPolicyService } from './accounts/policies.ts';
import { createSecretVersions } from './accounts/secret-versions.ts';
import { createTargetService } from './accounts/targets.ts';
import { type AuditLog, createAuditLog } from './audit/audit-log.ts';
import { createAuditReader } from './audit/audit-reader.ts';
import { createCheckpointer } from './audit/checkpointer.ts';
import { type Clock, systemClock } from './clock.ts';
import { createConnectors } from './connectors/platforms.ts';
import { createDiscoveryService } from './discovery/discovery-service.ts';
import { TesseraError } from './errors.ts';
import { createCommandTrackers } from './gateway/commands.ts';
import {
  createGatewayServices,
  type GatewayConfig,
  type RunningGateway,
  startGateway,
} from './gateway/gateway.ts';
import { createHttpApp } from './http/app.ts';
import { createCsrfTokens } from './http/browser-session.ts';
import { consoleRoutes } from './http/console.ts';
import { accessPolicyRoutes } from './http/routes/access-policy-routes.ts';
import { accountRoutes } from './http/routes/account-routes.ts';
import { auditRoutes } from './http/routes/audit-routes.ts';
import { discoveryRoutes } from './http/routes/discovery-routes.ts';
import { ephemeralRoutes } from './http/routes/ephemeral-routes.ts';
import { identityRoutes } from './http/routes/identity-routes.ts';
import { mfaRoutes } from './http/routes/mfa-routes.ts';
import { nodeRoutes } from './http/routes/node-routes.ts';
import { operatorRoutes } from './http/routes/operator-routes.ts';
import { policyRoutes } from './http/routes/policy-routes.ts';
import { recordingRoutes } from './http/routes/recording-routes.ts';
import { requestRoutes } from './http/routes/request-routes.ts';
import { rotationRoutes } from './http/routes/rotation-routes.ts';
import { safeRoutes } from './http/routes/safe-routes.ts';
import { sessionAuthRoutes } from './http/routes/session-auth-routes.ts';
import { sessionRoutes } from './http/routes/session-routes.ts';
import { sshKeyRoutes } from './http/routes/ssh-key-routes.ts';
import { targetRoutes } from './http/routes/target-routes.ts';
import { terminalRoutes } from './http/routes/terminal-routes.ts';
import { webhookRoutes } from './http/routes/webhook-routes.ts';
import { createLoginThrottle } from './identity/login-throttle.ts';
import { createMfaService } from './identity/mfa.ts';
import { createPasswordHasher } from './identity/password-hash.ts';
import { createTokenService, digestOf } from './identity/tokens.ts';
import { BUILTIN_ADMIN, createUserService } from './identity/users.ts';
import { checkTicketPattern, createHttpTicketValidator } from './integrations/ticket-validator.ts';
import { WEBHOOK_DISPATCH_INTERVAL_MS } from './integrations/webhook-dispatcher.ts';
import { createWebhooks } from './integrations/webhooks.ts';
import { createLogger } from './logger.ts';
import { createRotationEngine } from './rotation/rotation-engine.ts';
import { createRotationRuns } from './rotation/rotation-runs.ts';
import { createRotationSlots } from './rotation/rotation-slots.ts';
import { createRotationStatus } from './rotation/rotation-status.ts';
import { createScheduler } from './rotation/scheduler.ts';
import type { Services } from './services.ts';
import { openStore, type Store } from './store/store.ts';
import { KEY_BYTES } from './vault/envelope.ts';
import { createKeyring } from './vault/keyring.ts';
import { createOperatorService } from './vault/operator-service.ts';
import { createSecretCipher } from './vault/secret-cipher.ts';

export interface ServerConfig {
  readonly dataDir: string;
  readonly host: string;
  readonly port: number;
  readonly databaseUrl: string | null;
  readonly dev: boolean;
  readonly devRootToken: string | null;
  readonly schedulerIntervalMs: number;
  readonly checkpointIntervalMs: number;
  /**
   * Where the other nodes reach this node's API (`http://10.0.0.5:7200`), to watch through them
   * the sessions its gateway runs. Left out, the address the API listens on, unless that is
   * every address (0.0.0.0, ::) or loopback: other nodes then cannot pass watches on to this one.
   */
  readonly nodeUrl?: string | null;
}

export interface RunningServer {
  readonly url: string;
  /** Where other nodes reach this one's API; null when they cannot (ServerConfig.nodeUrl). */
  readonly nodeUrl: string | null;
  readonly services: Services;
  /** The SSH gateway, when started (ServerOptions.gateway). */
  readonly gateway: RunningGateway | null;
  close(): Promise<void>;
}

/** What dev mode prints once: it goes to the terminal (stderr), never to the JSON log. */
export type Banner = (line: string) => void;

export interface ServerOptions {
  readonly logger?: Logger;
  readonly clock?: Clock;
  readonly banner?: Banner;
  /**
   * Replaces the audit trail. Only the benchmark uses it, to measure the cost of auditing
   * against a baseline without it; the `server` command offers no way to set it.
   */
  readonly auditLog?: (deps: { store: Store; clock: Clock; logger: Logger }) => AuditLog;
  /** Starts the SSH gateway in this process with these settings; left out, none listens. */
  readonly gateway?: GatewayConfig;
  /** How often a watch relayed between nodes says it is alive; tests shorten it. */
  readonly watchRelayAliveMs?: number;
}

const DEV_UNSEAL_FILE = 'dev-unseal.key';
/** Requests expire, grants end and their sessions stop within this much of their time. */
const ACCESS_TICK_INTERVAL_MS = 1_000;
const NODE_ID_FILE = 'node-id';
/**
 * Addresses other nodes cannot use for this one: every address says nothing about which, and
 * loopback leads each node to itself.
 */
const NOT_FOR_OTHER_NODES = new BlockList();
NOT_FOR_OTHER_NODES.addSubnet('127.0.0.0', 8, 'ipv4');
NOT_FOR_OTHER_NODES.addAddress('0.0.0.0', 'ipv4');
NOT_FOR_OTHER_NODES.addAddress('::', 'ipv6');
NOT_FOR_OTHER_NODES.addAddress('::1', 'ipv6');

/** Node 20's pool size, with which a small buffer kept for long pins 8 KiB at most. */
const BUFFER_POOL_BYTES = 8 * 1024;

/** The composition root: builds every service from its narrow dependencies and starts listeners. */
export async function startServer(
  config: ServerConfig,
  options: ServerOptions = {},
): Promise<RunningServer> {
  // Small buffers (Buffer.from, concat) are cut from shared slabs of Buffer.poolSize, 64 KiB
  // in Node 24 (8 KiB in Node 20): one kept for a session's life (an SSH ident, a key, a wrapped
  // key) keeps its whole slab alive. With 8 KiB slabs, a thousand sessions pin MiB, not GiB.
  Buffer.poolSize = BUFFER_POOL_BYTES;
  const logger = options.logger ?? createLogger();
  const clock = options.clock ?? systemClock;
  const banner = options.banner ?? ((line: string) => process.stderr.write(`${line}\n`));
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });

  const store = await openStore(
    config.databaseUrl === null
      ? { kind: 'sqlite', file: path.join(config.dataDir, 'tessera.db') }
      : { kind: 'postgres', url: config.databaseUrl },
    {
      onConnectionError: (error) => logger.warn({ err: error }, 'database connection lost'),
      onClaimLost: (error) =>
        logger.error(
          { err: error },
          "the database connection that held this node's id was lost: another node could now " +
            'start with the same id; restart this node',
        ),
    },
  );
  const createAudit = options.auditLog ?? createAuditLog;
  const nodeId = loadNodeId(config.dataDir);
  // Before anything this node owns is touched: its rotation leases, its sessions left open.
  const claim = await store.claimNode(nodeId);
  if (!claim.claimed) {
    await store.close();
    const held = claim.holder === null ? '' : ` (held by ${claim.holder})`;
    throw new TesseraError(
      'CONFLICT',
      `another Tessera node runs with this node's id ${nodeId}${held}, read from ` +
        `${path.join(config.dataDir, NODE_ID_FILE)}: was the data dir copied from another ` +
        'node? Give each node a data dir of its own; to share the gateway host key, copy only ' +
        'gateway-host-key',
    );
  }
  // What has started, stopped newest first: by close(), or at once when the start fails, so that
  // a failed start leaves nothing running and lets go of this node's claim.
  const stops: Array<() => Promise<unknown>> = [() => store.close()];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) {
      await stop().catch((error: unknown) => {
        logger.error({ err: error }, 'a part of the server did not stop cleanly');
      });
    }
  };
  try {
    const services = buildServices({
      store,
      clock,
      logger,
      nodeId,
      createAudit,
      dataDir: config.dataDir,
    });
    const released = await services.rotation.releaseOwnLeases();
    if (released > 0) logger.warn({ released }, 'freed rotation leases left by an earlier crash');

    if (config.dev) await startDev(config, services, banner);

    const { checkpointer } = services;
    checkpointer.start(config.checkpointIntervalMs);
    // The last checkpoint comes after everything else that writes events has stopped.
    stops.push(async () => {
      checkpointer.stop();
      await checkpointer.checkpoint().catch(() => undefined);
    });
    stops.push(() => services.rotationRuns.stop());
    const scheduler = createScheduler({ ...services, logger });
    scheduler.start(config.schedulerIntervalMs);
    stops.push(() => scheduler.stop());
    // Recovery does not wait for the first interval: interrupted rotations settle at start.
    services.keyring.onUnseal(() => scheduler.tickNow());
    if (!services.keyring.isSealed()) scheduler.tickNow();
    // Deliveries wait while the vault is sealed: their signing keys are sealed under the root key.
    services.webhookDispatcher.start(WEBHOOK_DISPATCH_INTERVAL_MS);
    stops.push(() => services.webhookDispatcher.stop());
    services.accessTicker.start(ACCESS_TICK_INTERVAL_MS);
    stops.push(() => services.accessTicker.stop());
    services.keyring.onUnseal(() => void services.accessTicker.tickNow());
    // Ephemeral accounts whose grant ended while Tessera was down, or whose creation a crash cut
    // short, go at once; the access ticker reaps again periodically.
    const reapEphemeral = () => {
      services.ephemeral
        .reap()
        .catch((error: unknown) => logger.warn({ err: error }, 'ephemeral reap at start failed'));
    };
    services.keyring.onUnseal(reapEphemeral);
    if (!services.keyring.isSealed()) reapEphemeral();

    const { tokens, access } = services;
    const csrf = createCsrfTokens();
    const app = await createHttpApp({ logger, tokens, access, clock, csrf });
    stops.push(() => app.close());
    operatorRoutes(app, services);
    identityRoutes(app, services);
    sessionAuthRoutes(app, { ...services, csrf });
    safeRoutes(app, services);
    targetRoutes(app, services);
    policyRoutes(app, services);
    accountRoutes(app, services);
    rotationRoutes(app, services);
    auditRoutes(app, services);
    discoveryRoutes(app, services);
    sessionRoutes(app, {
      ...services,
      nodeId,
      ...(options.watchRelayAliveMs === undefined
        ? {}
        : { relayAliveMs: options.watchRelayAliveMs }),
    });
    recordingRoutes(app, { ...services, nodeId });
    nodeRoutes(app, { nodes: services.gateway.nodes, nodeId });
    sshKeyRoutes(app, services);
    webhookRoutes(app, services);
    accessPolicyRoutes(app, services);
    requestRoutes(app, services);
    terminalRoutes(app, services);
    mfaRoutes(app, services);
    ephemeralRoutes(app, services);
    await consoleRoutes(app);
    await app.listen({ host: config.host, port: config.port });
    const address = app.server.address();
    const port = typeof address === 'object' && address !== null ? address.port : config.port;
    const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
    logger.info({ url, store: store.dialect, dev: config.dev }, 'tessera listening');
    const nodeUrl = config.nodeUrl ?? (reachableFromElsewhere(config.host) ? url : null);
    if (nodeUrl === null && store.dialect === 'postgres') {
      logger.info(
        'other nodes cannot pass watches or recordings on from this node: give it --node-url',
      );
    }
    await services.gateway.nodes.announce(nodeId, nodeUrl);
    const gatewayDeps = { ...services, logger, nodeId, dataDir: config.dataDir };
    const gateway =
      options.gateway === undefined
        ? null
        : await startGateway(
            { ...gatewayDeps, commands: createCommandTrackers() },
            options.gateway,
          );
    if (gateway !== null) stops.push(() => gateway.close());

    return {
      url,
      nodeUrl,
      services,
      gateway,
      close: stopAll,
    };
  } catch (error) {
    // A server that cannot start whole does not stay half up.
    await stopAll();
    throw error;
  }
}

/** Whether other nodes could reach an API listening on `host` at that address. */
function reachableFromElsewhere(host: string): boolean {
  if (host === '' || host.toLowerCase() === 'localhost') return false;
  const family = isIP(host);
  if (family === 0) return true; // a name: the operator chose it
  return !NOT_FOR_OTHER_NODES.check(host, family === 6 ? 'ipv6' : 'ipv4');
}

function buildServices(deps: {
  store: Store;
  clock: Clock;
  logger: Logger;
  nodeId: string;
  createAudit: NonNullable<ServerOptions['auditLog']>;
  dataDir: string;
}): Services {
  const { store, clock, logger, nodeId } = deps;
  const connectors = createConnectors();
  const keyring = createKeyring({ store, clock });
  const cipher = createSecretCipher({ keyring });
  const audit = deps.createAudit({ store, clock, logger });
  const checkpointer = createCheckpointer({ store, keyring, clock, logger });
  const auditReader = createAuditReader({ store, keyring });
  const webhooks = createWebhooks({ store, audit, keyring, clock, logger });
  const groups = createGroupService({ store, audit, clock });
  const accessPolicies = createAccessPolicyService({ store, audit, clock });
  const grants = createGrantService({
    store,
    audit,
    clock,
    logger,
    mayOversee: async (principal, safeId) => {
      const held = await access.permissionsIn(principal.userId, safeId);
      return held.includes('approve') || held.includes('manage');
    },
  });
  const access = createAccessDecision({ store, clock, policies: accessPolicies, grants });
  const tokens = createTokenService({ store, clock });
  const hasher = createPasswordHasher();
  const users = createUserService({
    store,
    audit,
    hasher,
    tokens,
    throttle: createLoginThrottle(),
    clock,
  });
  const mfa = createMfaService({ store, audit, keyring, clock, users, tokens });
  const safes = createSafeService({ store, audit, cipher, clock });
  const policies = createPolicyService({ store, audit, clock });
  const targets = createTargetService({
    store,
    audit,
    clock,
    connectors,
  });
  const versions = createSecretVersions({ store, cipher, audit, logger });
  const accounts = createAccountService({
    store,
    audit,
    access,
    policies,
    versions,
    clock,
    connectors,
  });
  const rotation = createRotationEngine({
    store,
    audit,
    accounts,
    policies,
    targets,
    versions,
    connectors,
    clock,
    logger,
    nodeId,
  });
  const rotationSlots = createRotationSlots();
  const rotationRuns = createRotationRuns({
    store,
    audit,
    access,
    accounts,
    policies,
    rotation,
    rotationSlots,
    clock,
    logger,
    nodeId,
  });
  const rotationStatus = createRotationStatus({ store, clock });
  const checkout = createCheckoutService({
    store,
    audit,
    access,
    accounts,
    policies,
    versions,
    rotation,
    clock,
    logger,
  });
  const discovery = createDiscoveryService({
    store,
    audit,
    access,
    accounts,
    targets,
    versions,
    connectors,
    clock,
    logger,
  });
  const operator = createOperatorService({ store, keyring, audit, users, tokens, policies });
  const ephemeral = createEphemeralService({
    store,
    audit,
    access,
    keyring,
    clock,
    logger,
    connectors,
    accounts,
    targets,
    policies,
    versions,
    accessPolicies,
  });
  const ticketCheck = createHttpTicketValidator();
  const requests = createRequestService({
    store,
    audit,
    clock,
    logger,
    access,
    policies: accessPolicies,
    grants,
    groups,
    notifier: webhooks.notifier,
    tickets: { matches: checkTicketPattern, validate: (query) => ticketCheck.validate(query) },
    ephemeral: () => ephemeral,
  });
  const breakglass = createBreakglassService({
    store,
    audit,
    clock,
    logger,
    access,
    accounts,
    policies: accessPolicies,
    grants,
    groups,
    mfa,
    rotation,
    notifier: webhooks.notifier,
  });
  endGrantsWith({
    store,
    audit,
    grants,
    access,
    checkout,
    breakglass,
    ephemeral: () => ephemeral,
  });
  const accessTicker = createAccessTicker({
    requests,
    grants,
    ephemeral: () => ephemeral,
    isSealed: () => keyring.isSealed(),
    logger,
  });
  const gateway = createGatewayServices({
    store,
    audit,
    clock,
    policies,
    keyring,
    dataDir: deps.dataDir,
    logger,
  });
  return {
    store,
    clock,
    keyring,
    checkpointer,
    operator,
    audit,
    auditReader,
    access,
    groups,
    accessPolicies,
    requests,
    grants,
    breakglass,
    accessTicker,
    ephemeral,
    tokens,
    users,
    mfa,
    safes,
    policies,
    targets,
    accounts,
    checkout,
    rotation,
    rotationSlots,
    rotationRuns,
    rotationStatus,
    discovery,
    versions,
    gateway,
    webhooks: webhooks.service,
    notifier: webhooks.notifier,
    webhookDispatcher: webhooks.dispatcher,
  };
}

/**
 * A node's identity survives restarts, so a restarted node knows the rotation leases it held
 * before a crash. Nodes sharing a PostgreSQL database each have their own data directory.
 */
function loadNodeId(dataDir: string): string {
  const file = path.join(dataDir, NODE_ID_FILE);
  if (existsSync(file)) {
    const id = readFileSync(file, 'utf8').trim();
    if (/^[0-9a-f-]{36}$/.test(id)) return id;
    throw new Error(`${file} does not hold a node id`);
  }
  const id = randomUUID();
  writeFileSync(file, id, { mode: 0o600, flag: 'wx' });
  return id;
}

/**
 * Dev mode keeps the unseal key in the data directory, so the server unseals itself. That is
 * convenient and unsafe, and it says so at every start.
 */
async function startDev(config: ServerConfig, services: Services, banner: Banner): Promise<void> {
  const { keyring, operator, users, tokens, store } = services;
  const keyFile = path.join(config.dataDir, DEV_UNSEAL_FILE);
  const status = await keyring.status();

  if (!status.initialized) {
    const unsealKey = await keyring.initializeWithKey();
    writeFileSync(keyFile, unsealKey.toString('base64'), { mode: 0o600, flag: 'wx' });
    await keyring.unsealWithKey(unsealKey);
    const password = randomBytes(18).toString('base64url');
    await operator.bootstrap(password);
    banner('Tessera dev mode: a new vault was created. Log in once with:');
    banner(`  user: ${BUILTIN_ADMIN}`);
    banner(`  password: ${password}`);
    banner('This password is shown only now.');
  } else {
    if (!existsSync(keyFile)) {
      throw new Error(`dev mode needs ${keyFile}: this data directory was not made in dev mode`);
    }
    const unsealKey = Buffer.from(readFileSync(keyFile, 'utf8').trim(), 'base64');
    if (unsealKey.length !== KEY_BYTES) throw new Error(`${keyFile} does not hold an unseal key`);
    await keyring.unsealWithKey(unsealKey);
    await operator.bootstrap(null);
  }
  banner(
    `WARNING: dev mode. The unseal key is stored in ${keyFile}; never use dev mode in production.`,
  );

  if (config.devRootToken !== null) {
    const admin = await users.findByName(BUILTIN_ADMIN);
    if (admin === null) throw new Error('built-in admin missing');
    const known = await store.db
      .selectFrom('tokens')
      .select('id')
      .where('token_hash', '=', digestOf(config.devRootToken))
      .executeTakeFirst();
    if (known === undefined) {
      const token = config.devRootToken;
      await store.transaction(async (trx) => {
        const issued = await tokens.issue(trx, {
          userId: admin.id,
          kind: 'dev-root',
          ttlMs: null,
          token,
        });
        await services.audit.appendInTx(trx, [
          {
            action: 'auth.token.issue',
            outcome: 'success',
            actor: { id: null, name: 'tessera' },
            object: { type: 'token', id: issued.id, name: null },
            details: { kind: 'dev-root', user: admin.name },
          },
        ]);
      });
      await store.durable();
    }
  }
}
