import type { z } from "zod";
import { isTransientConnectionError } from "../postgres/transient-error.js";
import { HttpProblem, problemResponseSchema } from "../http/problem.js";
import { pageToOffset } from "../http/paging.js";
import type { RouteResponse, RouteSpec } from "../http/route-spec.js";
import type { Outbox } from "../outbox/create-outbox.js";
import type { TransactionalSqlDb } from "../outbox/sql-db.js";
import {
  deleteOutboxMessage,
  getOutboxMessage,
  listBlockedAggregates,
  listOutboxMessages,
  outboxAt,
  outboxStats,
  replayDeadMessages,
  retryDeadMessage,
  type AdminChange,
} from "./outbox-admin-queries.js";
import {
  blockedAggregatePageSchema,
  deleteWouldLeaveGapSchema,
  blockedAggregatesQuerySchema,
  outboxIdParamsSchema,
  outboxListQuerySchema,
  outboxMessageDetailSchema,
  outboxMessagePageSchema,
  outboxReplayQuerySchema,
  outboxReplayResultSchema,
  outboxStatsSchema,
} from "./outbox-admin-schemas.js";
import { outboxPurgeRoute } from "./outbox-purge-routes.js";

/** How the routes answer a database failure a retry can fix: its documented 503 and the mapping. */
export interface DatabaseUnavailable {
  response: RouteResponse;
  /** For `.catch()` on each query: throws the 503 problem for a retryable failure, else `error`. */
  rethrow: (error: unknown) => never;
}

export interface OutboxAdminRoutesOptions {
  outbox: Outbox;
  /** A drizzle node-postgres database over the pool (the purge opens transactions on it). */
  db: TransactionalSqlDb;
  /** Default "/api/outbox": messages at /messages, dead at /dead, blocked, stats, published/purge. */
  basePath?: string;
  /** The OpenAPI tag (default "Outbox"). */
  tag?: string;
  /** Default: a lost connection to PostgreSQL is a 503 with Retry-After 5. */
  databaseUnavailable?: DatabaseUnavailable;
}

const RETRY_AFTER_S = 5;

const transientUnavailable: DatabaseUnavailable = {
  response: {
    description: "The database is unreachable; retry later",
    schema: problemResponseSchema,
    headers: { "Retry-After": { description: "Seconds to wait before retrying", optional: true } },
  },
  rethrow: (error) => {
    if (!isTransientConnectionError(error)) throw error;
    throw new HttpProblem(
      503,
      "Service Unavailable",
      "The database is unreachable; retry later",
      {},
      { "Retry-After": String(RETRY_AFTER_S) },
    );
  },
};

const notFound = { description: "No outbox message with this id", schema: problemResponseSchema };

function expectDone(change: AdminChange, id: string, conflict: string): void {
  if (change === "not-found") throw new HttpProblem(404, "Not Found", `Outbox message ${id} does not exist`);
  if (change === "conflict") throw new HttpProblem(409, "Conflict", conflict);
}

/** Types a spec's handler by its own schemas, then lets it join a list of specs of other shapes. */
function route<P extends z.ZodType, Q extends z.ZodType>(spec: RouteSpec<P, Q>): RouteSpec {
  return spec;
}

/**
 * Operator API for one outbox: inspect messages and their history, retry or replay dead ones,
 * delete one that must never go out, purge finished rows, and counts for dashboards. Route specs:
 * a `ServiceHost` registers them with `host.route`, `outboxAdminRouter` mounts them on plain
 * Express. No authentication of its own: that is the host's (admin token, network or gateway).
 */
export function outboxAdminRoutes(options: OutboxAdminRoutesOptions): RouteSpec[] {
  const basePath = options.basePath ?? "/api/outbox";
  if (!/^(\/[A-Za-z0-9._~-]+)+$/.test(basePath))
    throw new TypeError(
      `outboxAdminRoutes: basePath must look like "/api/outbox", not ${JSON.stringify(basePath)}`,
    );
  const at = outboxAt(options.outbox, options.db);
  const tags = [options.tag ?? "Outbox"];
  const { response: unavailable, rethrow: rethrowAsUnavailable } =
    options.databaseUnavailable ?? transientUnavailable;

  return [
    route({
      method: "get",
      path: `${basePath}/messages`,
      summary:
        "List outbox messages with one status (pending and dead in publish order, others newest first)",
      tags,
      operationId: "listOutboxMessages",
      request: { query: outboxListQuerySchema },
      responses: { 200: { description: "One page", schema: outboxMessagePageSchema }, 503: unavailable },
      handler: async ({ query, res }) => {
        const { items, total } = await listOutboxMessages(at, query.status, pageToOffset(query)).catch(
          rethrowAsUnavailable,
        );
        res.json({ items, total, page: query.page, pageSize: query.pageSize });
      },
    }),

    route({
      method: "get",
      path: `${basePath}/messages/:id`,
      summary: "One outbox message with its history (refusals, dead, operator retries)",
      tags,
      operationId: "getOutboxMessage",
      request: { params: outboxIdParamsSchema },
      responses: {
        200: { description: "The message", schema: outboxMessageDetailSchema },
        404: notFound,
        503: unavailable,
      },
      handler: async ({ params, res }) => {
        const found = await getOutboxMessage(at, params.id).catch(rethrowAsUnavailable);
        if (found === undefined)
          throw new HttpProblem(404, "Not Found", `Outbox message ${params.id} does not exist`);
        res.json({ ...found.message, history: found.history });
      },
    }),

    route({
      method: "post",
      path: `${basePath}/messages/:id/retry`,
      summary:
        "Send a dead message again (attempts reset to 0); the later messages of its aggregate held behind it follow in order",
      tags,
      operationId: "retryOutboxMessage",
      request: { params: outboxIdParamsSchema },
      responses: {
        204: { description: "Pending again; the relay publishes it shortly" },
        404: notFound,
        409: { description: "The message is not dead", schema: problemResponseSchema },
        503: unavailable,
      },
      handler: async ({ params, res }) => {
        const change = await retryDeadMessage(at, params.id).catch(rethrowAsUnavailable);
        expectDone(change, params.id, "Only a dead message can be retried");
        res.status(204).end();
      },
    }),

    route({
      method: "post",
      path: `${basePath}/dead/replay`,
      summary: "Send dead messages again, oldest first, at most `limit` of them",
      tags,
      operationId: "replayDeadOutboxMessages",
      request: { query: outboxReplayQuerySchema },
      responses: {
        200: { description: "How many were replayed", schema: outboxReplayResultSchema },
        503: unavailable,
      },
      handler: async ({ query, res }) => {
        const replayed = await replayDeadMessages(at, query.limit).catch(rethrowAsUnavailable);
        res.json({ replayed });
      },
    }),

    route({
      method: "delete",
      path: `${basePath}/messages/:id`,
      summary:
        "Delete a dead message sent outside its aggregate's order (never accepted by the broker). A dead message in its aggregate's order cannot be deleted (retry it): the receivers would never get the aggregate's later versions. Pending messages cannot be deleted: a copy may be on its way",
      tags,
      operationId: "deleteOutboxMessage",
      request: { params: outboxIdParamsSchema },
      responses: {
        204: { description: "Deleted" },
        404: notFound,
        409: {
          description:
            "Dead in its aggregate's order (deleting it would leave a version gap no receiver gets past: retry it instead), or not dead: pending (a copy may already be on the broker, and deleting it would unblock its aggregate's next message), published or delivered",
          schema: deleteWouldLeaveGapSchema,
        },
        503: unavailable,
      },
      handler: async ({ params, res }) => {
        const outcome = await deleteOutboxMessage(at, params.id).catch(rethrowAsUnavailable);
        if (outcome.kind === "would-leave-gap") {
          const { aggregateType, aggregateId, type, waiting } = outcome.row;
          throw new HttpProblem(
            409,
            "Deleting would leave a version gap",
            `Message ${params.id} (${type}) is in the order of ${aggregateType} ${aggregateId}. The receivers ` +
              `apply an aggregate's messages in order: without it they would refuse every later one ` +
              `(${waiting} waiting now, and every one written later), and the entity would never be delivered ` +
              `again. Fix what made the broker refuse it, then retry it (POST ${basePath}/messages/${params.id}/retry): ` +
              `it and the messages held behind it are then published in order.`,
            { aggregateType, aggregateId, waiting, retry: `${basePath}/messages/${params.id}/retry` },
          );
        }
        expectDone(
          outcome.kind === "not-dead" ? "conflict" : outcome.kind,
          params.id,
          "Only a dead message can be deleted: a pending one may already be on the broker",
        );
        res.status(204).end();
      },
    }),

    route({
      method: "get",
      path: `${basePath}/blocked`,
      summary:
        "Aggregates stopped at a dead message: their later messages are held until it is retried (oldest first)",
      tags,
      operationId: "listBlockedAggregates",
      request: { query: blockedAggregatesQuerySchema },
      responses: { 200: { description: "One page", schema: blockedAggregatePageSchema }, 503: unavailable },
      handler: async ({ query, res }) => {
        const { items, total } = await listBlockedAggregates(at, pageToOffset(query)).catch(
          rethrowAsUnavailable,
        );
        res.json({ items, total, page: query.page, pageSize: query.pageSize });
      },
    }),

    route({
      method: "get",
      path: `${basePath}/stats`,
      summary: "Messages per status and the age of the oldest pending one",
      tags,
      operationId: "getOutboxStats",
      responses: { 200: { description: "Counts", schema: outboxStatsSchema }, 503: unavailable },
      handler: async ({ res }) => {
        const stats = await outboxStats(at).catch(rethrowAsUnavailable);
        res.json({
          counts: stats.counts,
          blockedAggregates: stats.blockedAggregates,
          oldestPendingAt: stats.oldestPendingAt?.toISOString() ?? null,
          oldestPendingAgeMs:
            stats.oldestPendingAt === null ? null : Math.max(0, Date.now() - stats.oldestPendingAt.getTime()),
        });
      },
    }),

    outboxPurgeRoute({ ...options, basePath, tags, unavailable, rethrowAsUnavailable }),
  ];
}
