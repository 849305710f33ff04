import {
  databaseUnavailableResponse,
  HttpProblem,
  pageToOffset,
  problemResponseSchema,
  rethrowAsUnavailable,
  type ServiceHost,
} from "@outbox/service-defaults";
import type { Database } from "../data/db.js";
import {
  deleteOutboxMessage,
  getOutboxMessage,
  listBlockedAggregates,
  listOutboxMessages,
  outboxStats,
  replayDeadMessages,
  retryDeadMessage,
  type AdminChange,
} from "../data/outbox-admin.js";
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

const tags = ["Outbox"];
const notFound = { description: "No outbox message with this id", schema: problemResponseSchema };
const unavailable = databaseUnavailableResponse;

function expectDone(change: AdminChange, id: string, conflict: string): void {
  if (change === "not-found") throw new HttpProblem(404, "Not Found", `Outbox message ${id} does not exist`);
  if (change === "conflict") throw new HttpProblem(409, "Conflict", conflict);
}

/**
 * Operator API for the outbox: inspect messages and their history, retry or replay dead ones,
 * delete one that must never go out, and counts for dashboards. No authentication of its own:
 * like /health it belongs behind the deployment's admin network or gateway.
 */
export function registerOutboxAdminRoutes(host: ServiceHost, deps: { db: Database }): void {
  const { db } = deps;

  host.route({
    method: "get",
    path: "/api/outbox/messages",
    summary: "List outbox messages with one status (pending and dead in publish order, others newest first)",
    tags,
    operationId: "listOutboxMessages",
    request: { query: outboxListQuerySchema },
    responses: { 200: { description: "One page", schema: outboxMessagePageSchema }, 503: unavailable },
    handler: async ({ query, res }) => {
      const { items, total } = await listOutboxMessages(db, query.status, pageToOffset(query)).catch(
        rethrowAsUnavailable,
      );
      res.json({ items, total, page: query.page, pageSize: query.pageSize });
    },
  });

  host.route({
    method: "get",
    path: "/api/outbox/messages/:id",
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
      const found = await getOutboxMessage(db, params.id).catch(rethrowAsUnavailable);
      if (found === undefined)
        throw new HttpProblem(404, "Not Found", `Outbox message ${params.id} does not exist`);
      res.json({ ...found.message, history: found.history });
    },
  });

  host.route({
    method: "post",
    path: "/api/outbox/messages/:id/retry",
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
      const change = await retryDeadMessage(db, params.id).catch(rethrowAsUnavailable);
      expectDone(change, params.id, "Only a dead message can be retried");
      res.status(204).end();
    },
  });

  host.route({
    method: "post",
    path: "/api/outbox/dead/replay",
    summary: "Send dead messages again, oldest first, at most `limit` of them",
    tags,
    operationId: "replayDeadOutboxMessages",
    request: { query: outboxReplayQuerySchema },
    responses: {
      200: { description: "How many were replayed", schema: outboxReplayResultSchema },
      503: unavailable,
    },
    handler: async ({ query, res }) => {
      const replayed = await replayDeadMessages(db, query.limit).catch(rethrowAsUnavailable);
      res.json({ replayed });
    },
  });

  host.route({
    method: "delete",
    path: "/api/outbox/messages/:id",
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
      const outcome = await deleteOutboxMessage(db, params.id).catch(rethrowAsUnavailable);
      if (outcome.kind === "would-leave-gap") {
        const { aggregateType, aggregateId, type, waiting } = outcome.row;
        throw new HttpProblem(
          409,
          "Deleting would leave a version gap",
          `Message ${params.id} (${type}) is in the order of ${aggregateType} ${aggregateId}. The receivers ` +
            `apply an aggregate's messages in order: without it they would refuse every later one ` +
            `(${waiting} waiting now, and every one written later), and the entity would never be delivered ` +
            `again. Fix what made the broker refuse it, then retry it (POST /api/outbox/messages/${params.id}/retry): ` +
            `it and the messages held behind it are then published in order.`,
          { aggregateType, aggregateId, waiting, retry: `/api/outbox/messages/${params.id}/retry` },
        );
      }
      expectDone(
        outcome.kind === "not-dead" ? "conflict" : outcome.kind,
        params.id,
        "Only a dead message can be deleted: a pending one may already be on the broker",
      );
      res.status(204).end();
    },
  });

  host.route({
    method: "get",
    path: "/api/outbox/blocked",
    summary:
      "Aggregates stopped at a dead message: their later messages are held until it is retried (oldest first)",
    tags,
    operationId: "listBlockedAggregates",
    request: { query: blockedAggregatesQuerySchema },
    responses: { 200: { description: "One page", schema: blockedAggregatePageSchema }, 503: unavailable },
    handler: async ({ query, res }) => {
      const { items, total } = await listBlockedAggregates(db, pageToOffset(query)).catch(
        rethrowAsUnavailable,
      );
      res.json({ items, total, page: query.page, pageSize: query.pageSize });
    },
  });

  host.route({
    method: "get",
    path: "/api/outbox/stats",
    summary: "Messages per status and the age of the oldest pending one",
    tags,
    operationId: "getOutboxStats",
    responses: { 200: { description: "Counts", schema: outboxStatsSchema }, 503: unavailable },
    handler: async ({ res }) => {
      const stats = await outboxStats(db).catch(rethrowAsUnavailable);
      res.json({
        counts: stats.counts,
        blockedAggregates: stats.blockedAggregates,
        oldestPendingAt: stats.oldestPendingAt?.toISOString() ?? null,
        oldestPendingAgeMs:
          stats.oldestPendingAt === null ? null : Math.max(0, Date.now() - stats.oldestPendingAt.getTime()),
      });
    },
  });
}
