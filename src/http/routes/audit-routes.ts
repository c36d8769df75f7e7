import { z } from 'zod';
import type { Services } from '../../services.ts';
import type { App } from '../app.ts';
import { iso, responses } from '../schemas.ts';

const event = z.object({
  seq: z.number(),
  id: z.string(),
  at: z.string(),
  actor: z.string().nullable(),
  actorId: z.string().nullable(),
  action: z.string(),
  objectType: z.string().nullable(),
  object: z.string().nullable(),
  /** The object's id where it has one (a session, a user, an account): names can repeat. */
  objectId: z.string().nullable(),
  outcome: z.string(),
  source: z.string().nullable(),
  reason: z.string().nullable(),
  requestId: z.string().nullable(),
  details: z.record(z.string(), z.unknown()).nullable(),
  hash: z.string(),
});

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 hash in lower-case hex');
const anchor = z.object({ seq: z.number(), hash: z.string() });

const time = z.iso.datetime({ offset: true }).transform((v) => Date.parse(v));

export function auditRoutes(app: App, { auditReader }: Pick<Services, 'auditReader'>): void {
  app.get(
    '/v1/audit/events',
    {
      config: { action: 'audit.read' },
      schema: {
        querystring: z
          .object({
            since: time.optional(),
            until: time.optional(),
            actor: z.string().max(128).optional(),
            action: z.string().max(128).optional(),
            object: z.string().max(300).describe("the object's name or id").optional(),
            after: z.coerce.number().int().min(0).optional(),
            limit: z.coerce.number().int().min(1).max(1000).default(100),
          })
          .strict(),
        response: responses({
          200: z.object({ events: z.array(event), next: z.number().nullable() }),
        }),
      },
    },
    async (request) => {
      const rows = await auditReader.list(request.query);
      const events = rows.map((row) => ({
        seq: row.seq,
        id: row.id,
        at: iso(row.at),
        actor: row.actor_name,
        actorId: row.actor_id,
        action: row.action,
        objectType: row.object_type,
        object: row.object_name,
        objectId: row.object_id,
        outcome: row.outcome,
        source: row.source,
        reason: row.reason,
        requestId: row.request_id,
        details: row.details === null ? null : (JSON.parse(row.details) as Record<string, unknown>),
        hash: row.hash,
      }));
      const last = rows.at(-1);
      return {
        events,
        next: rows.length === request.query.limit && last !== undefined ? last.seq : null,
      };
    },
  );

  app.post(
    '/v1/audit/verify',
    {
      config: { action: 'audit.read' },
      schema: {
        summary:
          'Walk the hash chain, its signed checkpoints and any anchors; name the first bad event',
        body: z
          .object({
            anchors: z
              .array(z.object({ seq: z.number().int().min(1), hash: sha256Hex }).strict())
              .max(100)
              .default([]),
          })
          .strict()
          // A POST without a body arrives as null: verify with no anchors.
          .nullish(),
        response: responses({
          200: z.object({
            ok: z.boolean(),
            events: z.number(),
            checkpoints: z.number(),
            lastSeq: z.number(),
            lastCheckpoint: anchor.nullable(),
            unsigned: z.number(),
            firstBad: z.object({ seq: z.number(), problem: z.string() }).nullable(),
          }),
        }),
      },
    },
    (request) => auditReader.verify(request.body?.anchors ?? []),
  );
}
