import { integerParameter, textField, type ServiceHost } from "@outbox/service-defaults";
import { sql } from "drizzle-orm";
import { z } from "zod";
import type { Database } from "../data/db.js";

const summarySchema = z.object({
  id: z.uuid(),
  type: z.string(),
  version: z.number().int(),
  status: z.string(),
  createdAt: z.iso.datetime(),
});

/**
 * Read-only: the outbox messages an aggregate (entity) produced, oldest first, so that a journey
 * can start from an entity id. Details per message: GET /api/outbox/messages/{id}.
 */
export function registerOutboxJourneyRoutes(host: ServiceHost, deps: { db: Database }): void {
  host.route({
    method: "get",
    path: "/api/outbox/aggregates/:aggregateId/messages",
    operationId: "listOutboxMessagesOfAggregate",
    summary: "The outbox messages one entity produced, oldest first (at most 100)",
    tags: ["Outbox"],
    request: {
      params: z.object({
        aggregateId: textField({ minLength: 1, maxLength: 200, description: "The entity's id" }),
      }),
    },
    responses: { 200: { description: "Messages", schema: z.object({ items: z.array(summarySchema) }) } },
    handler: async ({ params, res }) => {
      const rows = await deps.db.execute<{
        id: string;
        type: string;
        version: number;
        status: string;
        created_at: Date | string;
      }>(sql`select id, type, version, status, created_at from outbox_messages
               where aggregate_id = ${params.aggregateId} order by seq limit 100`);
      res.json({
        items: rows.rows.map((r) => ({
          id: r.id,
          type: r.type,
          version: r.version,
          status: r.status,
          createdAt: new Date(r.created_at).toISOString(),
        })),
      });
    },
  });

  host.route({
    method: "get",
    path: "/api/outbox/flow",
    operationId: "getOutboxFlow",
    summary:
      "Messages published and delivered in the last window, and commit → published / delivered latency",
    tags: ["Outbox"],
    request: {
      query: z.object({ windowMs: integerParameter({ min: 1000, max: 3_600_000, default: 60_000 }) }),
    },
    responses: {
      200: {
        description: "Flow over the window",
        schema: z.object({
          windowMs: z.number().int(),
          published: z.number().int(),
          delivered: z.number().int(),
          commitToPublishedMs: z.object({ p50: z.number().nullable(), p95: z.number().nullable() }),
          commitToDeliveredMs: z.object({ p50: z.number().nullable(), p95: z.number().nullable() }),
        }),
      },
    },
    handler: async ({ query, res }) => {
      const window = sql`now() - ${query.windowMs} * interval '1 millisecond'`;
      const [row] = (
        await deps.db.execute<Record<string, number | string | null>>(sql`
          select
            count(*) filter (where published_at >= ${window})::int as published,
            count(*) filter (where delivered_at >= ${window})::int as delivered,
            percentile_cont(0.5) within group (order by extract(epoch from published_at - created_at) * 1000)
              filter (where published_at >= ${window}) as pub_p50,
            percentile_cont(0.95) within group (order by extract(epoch from published_at - created_at) * 1000)
              filter (where published_at >= ${window}) as pub_p95,
            percentile_cont(0.5) within group (order by extract(epoch from delivered_at - created_at) * 1000)
              filter (where delivered_at >= ${window}) as del_p50,
            percentile_cont(0.95) within group (order by extract(epoch from delivered_at - created_at) * 1000)
              filter (where delivered_at >= ${window}) as del_p95
          from outbox_messages
          where published_at >= ${window} or delivered_at >= ${window}`)
      ).rows;
      const num = (v: number | string | null | undefined) =>
        v === null || v === undefined ? null : Number(v);
      res.json({
        windowMs: query.windowMs,
        published: num(row?.published) ?? 0,
        delivered: num(row?.delivered) ?? 0,
        commitToPublishedMs: { p50: num(row?.pub_p50), p95: num(row?.pub_p95) },
        commitToDeliveredMs: { p50: num(row?.del_p50), p95: num(row?.del_p95) },
      });
    },
  });
}
