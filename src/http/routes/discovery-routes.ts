import { z } from 'zod';
import type { DiscoveryRun, Finding } from '../../discovery/discovery-service.ts';
import type { Services } from '../../services.ts';
import { type App, contextOf, principalOf } from '../app.ts';
import { iso, name, responses } from '../schemas.ts';

const finding = z.object({
  target: z.string(),
  username: z.string(),
  reasons: z.array(z.string()),
  managed: z.boolean(),
  managedBy: z.string().nullable(),
  suggestedReconcileAccount: z.string().nullable(),
  firstSeenAt: z.string(),
  lastSeenAt: z.string(),
  goneAt: z.string().nullable(),
});

const run = z.object({
  id: z.string(),
  target: z.string(),
  startedBy: z.string(),
  state: z.enum(['finished', 'failed']),
  error: z.string().nullable(),
  found: z.number(),
  appeared: z.number(),
  disappeared: z.number(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
});

/** `true` or `false` in a query string; anything else is refused. */
const flag = z.enum(['true', 'false']).transform((value) => value === 'true');

const toFinding = (f: Finding) => ({
  target: f.target,
  username: f.username,
  reasons: [...f.reasons],
  managed: f.managed,
  managedBy: f.managedBy,
  suggestedReconcileAccount: f.suggestedReconcileAccount,
  firstSeenAt: iso(f.firstSeenAt),
  lastSeenAt: iso(f.lastSeenAt),
  goneAt: iso(f.goneAt),
});

const toRun = (r: DiscoveryRun) => ({
  id: r.id,
  target: r.target,
  startedBy: r.startedBy,
  state: r.state,
  error: r.error,
  found: r.found,
  appeared: r.appeared,
  disappeared: r.disappeared,
  startedAt: iso(r.startedAt),
  finishedAt: iso(r.finishedAt),
});

export function discoveryRoutes(app: App, { discovery }: Pick<Services, 'discovery'>): void {
  app.post(
    '/v1/targets/:target/discovery',
    {
      config: { action: 'discovery.run' },
      schema: {
        summary: "Scan the target for privileged accounts with a scanning account's secret",
        params: z.object({ target: name }),
        // No body at all is the same as `{}`: the target's reconcile account scans.
        body: z
          .object({ scanner: z.string().min(3).max(300).optional() })
          .strict()
          .nullish(),
        response: responses({
          200: z.object({
            run,
            scanner: z.string(),
            appeared: z.array(finding),
            disappeared: z.array(z.string()),
            unmanaged: z.number(),
          }),
        }),
      },
    },
    async (request) => {
      const input = { target: request.params.target, scanner: request.body?.scanner };
      const summary = await discovery.run(contextOf(request), principalOf(request), input);
      return {
        run: toRun(summary.run),
        scanner: summary.scanner,
        appeared: summary.appeared.map(toFinding),
        disappeared: [...summary.disappeared],
        unmanaged: summary.unmanaged,
      };
    },
  );

  app.get(
    '/v1/discovery',
    {
      config: { action: 'discovery.read' },
      schema: {
        summary: 'Privileged accounts found by discovery, and whether Tessera manages them',
        querystring: z
          .object({ target: name.optional(), unmanaged: flag.optional(), gone: flag.optional() })
          .strict(),
        response: responses({ 200: z.object({ findings: z.array(finding) }) }),
      },
    },
    async (request) => ({
      findings: (await discovery.findings(principalOf(request), request.query)).map(toFinding),
    }),
  );

  app.get(
    '/v1/discovery/runs',
    {
      config: { action: 'discovery.read' },
      schema: {
        summary: 'Discovery runs, newest first',
        querystring: z
          .object({
            target: name.optional(),
            limit: z.coerce.number().int().min(1).max(500).optional(),
          })
          .strict(),
        response: responses({ 200: z.object({ runs: z.array(run) }) }),
      },
    },
    async (request) => ({
      runs: (await discovery.runs(principalOf(request), request.query)).map(toRun),
    }),
  );
}
