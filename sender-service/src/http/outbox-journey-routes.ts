import type { ServiceHost } from "@outbox/service-defaults";
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
    request: { params: z.object({ aggregateId: z.string().min(1).max(200) }) },
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
}
