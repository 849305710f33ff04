import { deadLetterRoutes, type DeadLetter, type DeadLetterOperations } from "@outbox/messaging";
import type { ServiceHost } from "@outbox/service-defaults";
import { z } from "zod";
import type { Database } from "../data/db.js";
import { failureSummaries } from "../data/queries.js";
import {
  deleteWouldLeaveGapSchema,
  findDeadLetter,
  refuseDeleteThatLeavesGap,
} from "./dead-letter-delete-guard.js";

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

export interface DeadLetterQueues {
  /** Consumer group -> its dead-letter queue. */
  byGroup: ReadonlyMap<string, DeadLetterOperations>;
  defaultGroup: string;
}

/**
 * Browse, count, replay and delete dead-lettered messages of this service's consumer groups: the
 * routes of @outbox/messaging, with the receiver's recorded failures in the listing and its delete
 * guard (no version gap).
 */
export function registerDeadLetterRoutes(host: ServiceHost, db: Database, queues: DeadLetterQueues): void {
  const routes = deadLetterRoutes({
    basePath: "/api/DeadLetters",
    source: queues,
    docs: {
      tag: "DeadLetters",
      pageSchemaId: "DeadLetterPage",
      groupParameter: "Consumer group whose dead-letter queue to use (default: this service's main group)",
      operationIds: {
        list: "listDeadLetters",
        count: "countDeadLetters",
        replay: "replayDeadLetter",
        replayAll: "replayAllDeadLetters",
        delete: "deleteDeadLetter",
      },
      summaries: {
        list: "Browse the dead-letter queue without consuming it (oldest first), with the recorded reason",
        count: "How many messages the dead-letter queue holds",
        replay:
          "Move one message back to the queue it was dead-lettered from (atomically, inside the broker)",
        replayAll: "Move every message of the dead-letter queue back to its original queue",
        delete:
          "Delete one message from the dead-letter queue for good, unless the group still needs it (an entity version it has not applied)",
      },
    },
    items: { schema: deadLetterSchema, describe: (letters, { group }) => withFailures(db, group, letters) },
    beforeDelete: {
      check: async (id, { group, dlq }) => {
        if (group === undefined) throw new Error("the receiver's dead-letter queues are per consumer group");
        await refuseDeleteThatLeavesGap(db, group, await findDeadLetter(dlq, id));
      },
      conflict: {
        description:
          "An entity event the group has not applied (deleting it would leave a version gap for that entity in that group: replay it instead), or a message beyond the oldest 200, which cannot be checked",
        schema: deleteWouldLeaveGapSchema,
      },
    },
  });
  for (const route of routes) host.route(route);
}

/** The listed letters with the failure the group last recorded for each. */
async function withFailures(
  db: Database,
  group: string | undefined,
  letters: DeadLetter[],
): Promise<z.infer<typeof deadLetterSchema>[]> {
  if (group === undefined) throw new Error("the receiver's dead-letter queues are per consumer group");
  const ids = letters.flatMap((l) => (l.messageId === undefined ? [] : [l.messageId]));
  const failures = await failureSummaries(db, group, ids);
  return letters.map((l) => {
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
}
