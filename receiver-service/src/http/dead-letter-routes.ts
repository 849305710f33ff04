import {
  brokerUnavailableResponse as unavailable,
  deadLetterIdParams as idParams,
  deadLetterLimitParameter as limitField,
  expectDeadLetter,
  HttpProblem,
  MAX_BROWSE,
  problemResponseSchema,
  unavailableWhenBrokerIsDown,
  type DeadLetter,
  type DeadLetterQueue,
  type ServiceHost,
} from "@outbox/service-defaults";
import { z } from "zod";
import type { Database } from "../data/db.js";
import { deadLetterApplyState, failureSummaries, type VersionedProjection } from "../data/queries.js";

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

/** 409 for DELETE of a dead letter its group still needs to keep the aggregate's versions contiguous. */
export const deleteWouldLeaveGapSchema = problemResponseSchema
  .extend({
    group: z.string().optional(),
    aggregateId: z.string().optional(),
    messageId: z.string().optional(),
    eventType: z.string().optional(),
    version: z.number().int().nullable().optional().meta({
      description:
        "The aggregate version the dead letter brings (1 for a creation; null: not visible without its body)",
    }),
    appliedVersion: z.number().int().nullable().optional().meta({
      description: "The aggregate's highest version the group has applied (null: none)",
    }),
    replay: z.string().optional().meta({ description: "The admin route to use instead" }),
  })
  .meta({
    id: "DeadLetterDeleteWouldLeaveGapProblem",
    description:
      "RFC 9457 problem details; the group, the aggregate and the version a DELETE would leave missing, and the replay route to use instead",
  });

/** The group whose versions live in the audit log (main.ts names it so); any other is the entity copy. */
const AUDIT_GROUP = "audit";
const ENTITY_EVENTS = new Set(["EntityItemCreated", "EntityItemUpdated"]);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface DeadLetterQueues {
  /** Consumer group -> its dead-letter queue. */
  byGroup: ReadonlyMap<string, DeadLetterQueue>;
  defaultGroup: string;
}

/**
 * Refuses (409) to delete a dead letter its group has not applied when it is an entity event: the
 * group applies an aggregate's versions in order, so without it every later version of that
 * entity would be refused as a version gap in that group forever. Deletable: a message the group
 * already processed (by message id, or a creation of an entity it holds), one the group recorded
 * as poison (it can never apply it as it is), and anything that is not an entity event. The body
 * is not visible through management, so an update's own version is not known here: an update the
 * group has not processed is kept (a replay of a copy applied under another id is harmless).
 */
async function refuseDeleteThatLeavesGap(db: Database, group: string, letter: DeadLetter): Promise<void> {
  const props = letter.properties;
  const type = letter.type;
  const aggregate = props["aggregate_id"] ?? letter.groupId;
  if (type === undefined || !ENTITY_EVENTS.has(type) || letter.messageId === undefined) return;
  // The event schema requires a UUID entity id: anything else never applies to any entity.
  if (typeof aggregate !== "string" || !UUID.test(aggregate.trim())) return;
  const aggregateId = aggregate.trim();
  const projection: VersionedProjection = group === AUDIT_GROUP ? "audit-log" : "entity-copy";
  const state = await deadLetterApplyState(db, {
    projection,
    group,
    aggregateId,
    messageId: letter.messageId,
  });
  if (state.applied || state.lastFailureKind === "poison") return;
  const version = type === "EntityItemCreated" ? 1 : null;
  if (version !== null && state.appliedVersion !== undefined && state.appliedVersion >= version) return;
  const replay = `/api/DeadLetters/${letter.id}/replay?group=${encodeURIComponent(group)}`;
  const holds =
    state.appliedVersion === undefined
      ? "has applied no version of it yet"
      : `has applied it up to version ${state.appliedVersion}`;
  throw new HttpProblem(
    409,
    "Deleting would leave a version gap",
    `Dead letter ${letter.id} (${type}${version === null ? "" : ` version ${version}`}, message ${letter.messageId}) ` +
      `is a version of EntityItem ${aggregateId} that consumer group ${group} has not applied; the group ${holds}. ` +
      `It applies an aggregate's versions in order: without this one it would refuse every later version of ` +
      `${aggregateId} as a version gap, for good. Replay it instead (POST ${replay}).`,
    {
      group,
      aggregateId,
      messageId: letter.messageId,
      eventType: type,
      version,
      appliedVersion: state.appliedVersion ?? null,
      replay,
    },
  );
}

/**
 * The dead letter with this broker id, from the listing (management has no lookup by id). Past the
 * listing's page it cannot be checked: refused rather than deleted unseen.
 */
async function findDeadLetter(dlq: DeadLetterQueue, id: number): Promise<DeadLetter> {
  const letters = await dlq.browse(MAX_BROWSE).catch(unavailableWhenBrokerIsDown);
  const letter = letters.find((l) => l.id === id);
  if (letter !== undefined) return letter;
  if (letters.length < MAX_BROWSE) expectDeadLetter(false, id, dlq.queue);
  throw new HttpProblem(
    409,
    "Dead letter not checkable",
    `Message ${id} is not among the oldest ${MAX_BROWSE} of ${dlq.queue} (all the broker lists), so whether ` +
      `deleting it would leave a version gap cannot be checked. Replay or delete older dead letters first.`,
  );
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
