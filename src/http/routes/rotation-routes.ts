import { z } from 'zod';
import type { RotationRun } from '../../rotation/rotation-runs.ts';
import {
  ACCOUNT_STATES,
  type AccountRotationStatus,
  ROTATION_HEALTH,
} from '../../rotation/rotation-status.ts';
import type { RunScope } from '../../rotation/run-scope.ts';
import type { Services } from '../../services.ts';
import { type App, contextOf, principalOf } from '../app.ts';
import { iso, name, responses, uuid } from '../schemas.ts';

const scope = z.object({
  target: z.string().optional(),
  safe: z.string().optional(),
  all: z.literal(true).optional(),
});
const run = z.object({
  id: z.string(),
  state: z.enum(['running', 'finished', 'failed']),
  scope,
  startedBy: z.string(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  total: z.number(),
  succeeded: z.number(),
  failed: z.number(),
  failures: z.array(
    z.object({ account: z.string(), error: z.string(), finishedAt: z.string().nullable() }),
  ),
});
const accountStatus = z.object({
  ref: z.string(),
  safe: z.string(),
  policy: z.string(),
  state: z.string(),
  health: z.enum(ROTATION_HEALTH),
  lastRotatedAt: z.string().nullable(),
  nextRotationAt: z.string().nullable(),
  lastAttemptAt: z.string().nullable(),
  lastError: z.string().nullable(),
  failures: z.number(),
});
const totals = z.object({
  accounts: z.number(),
  ok: z.number(),
  due: z.number(),
  failing: z.number(),
  neverRotated: z.number(),
});

const toScope = (s: RunScope) => {
  if (s.target !== undefined) return { target: s.target };
  if (s.safe !== undefined) return { safe: s.safe };
  return { all: true as const };
};

const toRun = (r: RotationRun) => ({
  id: r.id,
  state: r.state,
  scope: toScope(r.scope),
  startedBy: r.startedBy,
  startedAt: iso(r.startedAt),
  finishedAt: iso(r.finishedAt),
  total: r.total,
  succeeded: r.succeeded,
  failed: r.failed,
  failures: r.failures.map((f) => ({
    account: f.account,
    error: f.error,
    finishedAt: iso(f.finishedAt),
  })),
});

const toAccountStatus = (a: AccountRotationStatus) => ({
  ref: a.ref,
  safe: a.safe,
  policy: a.policy,
  state: a.state,
  health: a.health,
  lastRotatedAt: iso(a.lastRotatedAt),
  nextRotationAt: iso(a.nextRotationAt),
  lastAttemptAt: iso(a.lastAttemptAt),
  lastError: a.lastError,
  failures: a.failures,
});

/** Exactly one scope: a target's accounts, a safe's, or every account. */
const runBody = z
  .object({ target: name.optional(), safe: name.optional(), all: z.literal(true).optional() })
  .strict()
  .refine(
    (b) => [b.target, b.safe, b.all].filter((v) => v !== undefined).length === 1,
    'give exactly one of target, safe or all',
  );

export function rotationRoutes(
  app: App,
  {
    rotationRuns,
    rotationStatus,
    store,
    clock,
  }: Pick<Services, 'rotationRuns' | 'rotationStatus' | 'store' | 'clock'>,
): void {
  // The scope decides what a run needs (manage on its safe, or the admin role): the service asks.
  app.post(
    '/v1/rotation/runs',
    {
      config: { action: 'rotation.run', scope: 'safe' },
      schema: {
        summary: 'Rotate every account of a target, of a safe, or all, in the background',
        body: runBody,
        response: responses({ 202: z.object({ id: z.string(), total: z.number() }) }),
      },
    },
    async (request, reply) => {
      const body = request.body;
      const chosen: RunScope =
        body.target !== undefined
          ? { target: body.target }
          : body.safe !== undefined
            ? { safe: body.safe }
            : { all: true };
      const started = await rotationRuns.start(contextOf(request), principalOf(request), chosen);
      return reply.status(202).send(started);
    },
  );

  app.get(
    '/v1/rotation/runs/:id',
    {
      config: { action: 'rotation.run.read', scope: 'safe' },
      schema: {
        summary: 'A bulk run: its state, counts, and the failed accounts with their error',
        params: z.object({ id: uuid }),
        response: responses({ 200: run }),
      },
    },
    async (request) => toRun(await rotationRuns.get(principalOf(request), request.params.id)),
  );

  app.get(
    '/v1/rotation/status',
    {
      config: { action: 'rotation.status', scope: 'safe' },
      schema: {
        summary: 'Rotation health of the accounts the caller may list, with totals',
        querystring: z
          .object({
            safe: name.optional(),
            target: name.optional(),
            state: z.enum(ACCOUNT_STATES).optional(),
            health: z.enum(ROTATION_HEALTH).optional(),
          })
          .strict(),
        response: responses({
          200: z.object({ accounts: z.array(accountStatus), totals }),
        }),
      },
    },
    async (request) => {
      const report = await rotationStatus.report(principalOf(request), request.query);
      return { accounts: report.accounts.map(toAccountStatus), totals: report.totals };
    },
  );

  app.get(
    '/v1/rotation/activity',
    {
      config: { action: 'rotation.status' },
      schema: {
        summary: 'Rotations and failed rotations per UTC day, from the audit trail',
        querystring: z
          .object({ days: z.coerce.number().int().min(1).max(366).default(30) })
          .strict(),
        response: responses({
          200: z.object({
            days: z.array(z.object({ day: z.string(), rotated: z.number(), failed: z.number() })),
          }),
        }),
      },
    },
    async (request) => {
      const dayMs = 86_400_000;
      const today = Math.floor(clock.now() / dayMs) * dayMs;
      const since = today - (request.query.days - 1) * dayMs;
      const rows = await store.db
        .selectFrom('audit_events')
        .select(['at', 'outcome'])
        .where('action', '=', 'account.rotate')
        .where('at', '>=', since)
        .execute();
      const days = Array.from({ length: request.query.days }, (_, i) => ({
        day: new Date(since + i * dayMs).toISOString().slice(0, 10),
        rotated: 0,
        failed: 0,
      }));
      for (const row of rows) {
        const slot = days[Math.floor((Number(row.at) - since) / dayMs)];
        if (slot === undefined) continue;
        if (row.outcome === 'success') slot.rotated += 1;
        else slot.failed += 1;
      }
      return { days };
    },
  );
}
