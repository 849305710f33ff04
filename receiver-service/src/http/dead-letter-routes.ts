import {
  brokerUnavailableResponse as unavailable,
  deadLetterIdParams as idParams,
  deadLetterLimitParameter as limitField,
  expectDeadLetter,
  problemResponseSchema,
  unavailableWhenBrokerIsDown,
  type DeadLetterQueue,
  type ServiceHost,
} from "@outbox/service-defaults";
import { z } from "zod";
import type { Database } from "../data/db.js";
import { failureSummaries } from "../data/queries.js";
import {
  deleteWouldLeaveGapSchema,
  findDeadLetter,
  refuseDeleteThatLeavesGap,
} from "./dead-letter-delete-guard.js";

const TAG = "DeadLetters";

export const deadLetterSchema = z
  .object({
    id: z.number().int().meta({ description: "Broker id of the message in the dead-letter queue" }),
    messageId: z.string().nullable().meta({ description: "Producer message id (the sender's outbox id)" }),
    type: z.string().nullable(),
    version: z.number().int().nullable(),
    aggregateId: z.string().nullable().meta({ description: "AMQP group_id" }),
    originalAddress: z.string().nullable(),
    originalQueue: z.string().nullable(),
    reason: z.string().nullable().meta({ description: "Error of the latest recorded failure" }),
    failureKind: z.enum(["transient", "poison"]).nullable(),
    attempts: z.number().int().nullable().meta({ description: "Delivery attempts recorded for it" }),
    lastFailedAt: z.iso.datetime().nullable(),
  })
  .meta({ id: "DeadLetter" });

const listSchema = z
  .object({
    group: z.string(),
    queue: z.string(),
    count: z.number().int().meta({ description: "Messages in the dead-letter queue (may exceed items)" }),
    items: z.array(deadLetterSchema),
  })
  .meta({ id: "DeadLetterPage" });

/** `?group=` names one of this service's consumer groups (an enum in the document). */
function groupField(groups: readonly [string, ...string[]]) {
  return z.enum(groups).optional().meta({
    description: "Consumer group whose dead-letter queue to use (default: this service's main group)",
  });
}

export interface DeadLetterQueues {
  /** Consumer group -> its dead-letter queue. */
  byGroup: ReadonlyMap<string, DeadLetterQueue>;
  defaultGroup: string;
}

/** Browse, count, replay and delete dead-lettered messages of this service's consumer groups. */
export function registerDeadLetterRoutes(host: ServiceHost, db: Database, queues: DeadLetterQueues): void {
  const [first, ...others] = queues.byGroup.keys();
  if (first === undefined) throw new Error("registerDeadLetterRoutes needs at least one consumer group");
  const groupQuery = z.object({ group: groupField([first, ...others]) });
  const limitQuery = groupQuery.extend({ limit: limitField });
  // The query's enum has let through only groups that have a queue.
  const pick = (group: string | undefined): { group: string; dlq: DeadLetterQueue } => {
    const name = group ?? queues.defaultGroup;
    const dlq = queues.byGroup.get(name);
    if (dlq === undefined) throw new Error(`no dead-letter queue for consumer group ${name}`);
    return { group: name, dlq };
  };

  host.route({
    method: "get",
    path: "/api/DeadLetters",
    operationId: "listDeadLetters",
    summary: "Browse the dead-letter queue without consuming it (oldest first), with the recorded reason",
    tags: [TAG],
    request: { query: limitQuery },
    responses: { 200: { description: "Dead letters", schema: listSchema }, 503: unavailable },
    handler: async ({ query, res }) => {
      const { group, dlq } = pick(query.group);
      const [count, letters] = await Promise.all([dlq.count(), dlq.browse(query.limit)]).catch(
        unavailableWhenBrokerIsDown,
      );
      const ids = letters.flatMap((l) => (l.messageId === undefined ? [] : [l.messageId]));
      const failures = await failureSummaries(db, group, ids);
      const items = letters.map((l) => {
        const failure = l.messageId === undefined ? undefined : failures.get(l.messageId);
        return {
          id: l.id,
          messageId: l.messageId ?? null,
          type: l.type ?? null,
          version: l.version ?? null,
          aggregateId: l.groupId ?? null,
          originalAddress: l.originalAddress ?? null,
          originalQueue: l.originalQueue ?? null,
          reason: failure?.lastError ?? null,
          failureKind: failure?.lastKind ?? null,
          attempts: failure?.attempts ?? null,
          lastFailedAt: failure?.lastFailedAt.toISOString() ?? null,
        };
      });
      res.json({ group, queue: dlq.queue, count, items });
    },
  });

  host.route({
    method: "get",
    path: "/api/DeadLetters/count",
    operationId: "countDeadLetters",
    summary: "How many messages the dead-letter queue holds",
    tags: [TAG],
    request: { query: groupQuery },
    responses: {
      200: {
        description: "The count",
        schema: z.object({ group: z.string(), queue: z.string(), count: z.number().int() }),
      },
      503: unavailable,
    },
    handler: async ({ query, res }) => {
      const { group, dlq } = pick(query.group);
      res.json({ group, queue: dlq.queue, count: await dlq.count().catch(unavailableWhenBrokerIsDown) });
    },
  });

  host.route({
    method: "post",
    path: "/api/DeadLetters/:id/replay",
    operationId: "replayDeadLetter",
    summary: "Move one message back to the queue it was dead-lettered from (atomically, inside the broker)",
    tags: [TAG],
    request: { params: idParams, query: groupQuery },
    responses: {
      204: { description: "Replayed" },
      404: { description: "No such message in the dead-letter queue", schema: problemResponseSchema },
      503: unavailable,
    },
    handler: async ({ params, query, res }) => {
      const { dlq } = pick(query.group);
      expectDeadLetter(await dlq.replay(params.id).catch(unavailableWhenBrokerIsDown), params.id, dlq.queue);
      res.status(204).end();
    },
  });

  host.route({
    method: "post",
    path: "/api/DeadLetters/replay",
    operationId: "replayAllDeadLetters",
    summary: "Move every message of the dead-letter queue back to its original queue",
    tags: [TAG],
    request: { query: groupQuery },
    responses: {
      200: { description: "How many were replayed", schema: z.object({ replayed: z.number().int() }) },
      503: unavailable,
    },
    handler: async ({ query, res }) => {
      const { dlq } = pick(query.group);
      res.json({ replayed: await dlq.replayAll().catch(unavailableWhenBrokerIsDown) });
    },
  });

  host.route({
    method: "delete",
    path: "/api/DeadLetters/:id",
    operationId: "deleteDeadLetter",
    summary:
      "Delete one message from the dead-letter queue for good, unless the group still needs it (an entity version it has not applied)",
    tags: [TAG],
    request: { params: idParams, query: groupQuery },
    responses: {
      204: { description: "Deleted" },
      404: { description: "No such message in the dead-letter queue", schema: problemResponseSchema },
      409: {
        description:
          "An entity event the group has not applied (deleting it would leave a version gap for that entity in that group: replay it instead), or a message beyond the oldest 200, which cannot be checked",
        schema: deleteWouldLeaveGapSchema,
      },
      503: unavailable,
    },
    handler: async ({ params, query, res }) => {
      const { group, dlq } = pick(query.group);
      await refuseDeleteThatLeavesGap(db, group, await findDeadLetter(dlq, params.id));
      expectDeadLetter(await dlq.remove(params.id).catch(unavailableWhenBrokerIsDown), params.id, dlq.queue);
      res.status(204).end();
    },
  });
}
