import { randomUUID } from 'node:crypto';
import swagger from '@fastify/swagger';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyRequest,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault,
} from 'fastify';
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import type { AccessDecision } from '../access/access-decision.ts';
import { ACCESS_RULES, type Action } from '../access/rules.ts';
import type { RequestContext } from '../audit/event.ts';
import { TesseraError } from '../errors.ts';
import type { Principal } from '../identity/principal.ts';
import type { TokenService } from '../identity/tokens.ts';
import { errorHandler, notFoundHandler } from './error-boundary.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** The action this route performs, as the access decision point knows it. */
    action?: Action;
    /**
     * `safe`: the decision needs the safe of the object, so the service asks the decision
     * point once it has found the object. Everything else is decided before the handler runs.
     */
    scope?: 'global' | 'safe';
  }
}

export type App = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  ZodTypeProvider
>;

const BODY_LIMIT_BYTES = 64 * 1024;

export async function createHttpApp(deps: {
  logger: Logger;
  tokens: TokenService;
  access: AccessDecision;
  trustProxy?: boolean;
}): Promise<App> {
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: BODY_LIMIT_BYTES,
    genReqId: () => randomUUID(),
    trustProxy: deps.trustProxy ?? false,
    routerOptions: { maxParamLength: 300 },
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  app.decorateRequest('principal', null);

  await app.register(swagger, {
    openapi: {
      info: { title: 'Tessera API', version: '1' },
      components: {
        securitySchemes: { token: { type: 'http', scheme: 'bearer' } },
      },
      security: [{ token: [] }],
    },
    transform: jsonSchemaTransform,
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    request.principal = await authenticate(deps.tokens, request);
    // The request's own logger (shared with its reply) names the actor from here on.
    if (request.principal !== null) {
      (request.log as Logger).setBindings({ actor: request.principal.name });
    }
  });

  // Default deny: a route that does not name its action answers 403 to everyone. The decision
  // comes before validation, so a caller without rights learns nothing from validation errors.
  app.addHook('preValidation', async (request) => {
    if (request.is404) return;
    const { action, scope } = request.routeOptions.config;
    if (action === undefined || !(action in ACCESS_RULES)) {
      throw new TesseraError('FORBIDDEN', 'this route has no access rule');
    }
    if (scope === 'safe') {
      if (request.principal === null) throw new TesseraError('UNAUTHENTICATED', 'log in first');
      return;
    }
    await deps.access.require(request.principal, action);
  });

  app.get('/v1/openapi.json', { config: { action: 'system.health' }, schema: { hide: true } }, () =>
    app.swagger(),
  );

  return app as unknown as App;
}

async function authenticate(
  tokens: TokenService,
  request: FastifyRequest,
): Promise<Principal | null> {
  const header = request.headers.authorization;
  if (header === undefined) return null;
  const match = /^Bearer ([A-Za-z0-9_\-.~+/=]{1,256})$/.exec(header);
  if (match?.[1] === undefined)
    throw new TesseraError('UNAUTHENTICATED', 'malformed authorization header');
  const principal = await tokens.authenticate(match[1]);
  if (principal === null) throw new TesseraError('UNAUTHENTICATED', 'invalid or expired token');
  return principal;
}

/** Who is asking, from where, under which request id: passed to every service call. */
export function contextOf(request: FastifyRequest): RequestContext {
  const principal = request.principal;
  return {
    actor:
      principal === null
        ? { id: null, name: null }
        : { id: principal.userId, name: principal.name },
    source: request.ip,
    requestId: request.id,
  };
}

export function principalOf(request: FastifyRequest): Principal {
  if (request.principal === null) throw new TesseraError('UNAUTHENTICATED', 'log in first');
  return request.principal;
}
