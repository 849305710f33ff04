import {
  expectDeadLetter,
  MAX_BROWSE,
  unavailableWhenBrokerIsDown,
  type DeadLetter,
  type DeadLetterOperations,
} from "@outbox/messaging";
import { HttpProblem, problemResponseSchema } from "@outbox/service-defaults";
import { z } from "zod";
import type { Database } from "../data/db.js";
import {
  deadLetterApplyState,
  type DeadLetterApplyState,
  type VersionedProjection,
} from "../data/queries.js";

/** 409 for DELETE of a dead letter its group still needs to keep an entity's versions contiguous. */
export const deleteWouldLeaveGapSchema = problemResponseSchema
  .extend({
    group: z.string().optional(),
    aggregateId: z.string().optional(),
    messageId: z.string().optional(),
    eventType: z.string().optional(),
    version: z.number().int().nullable().optional().meta({
      description:
        "The aggregate version the dead letter brings: 1 for a creation; null for an update (its version is in the body, which management does not show)",
    }),
    appliedVersion: z.number().int().nullable().optional().meta({
      description: "The aggregate's highest version the group has applied (null: none)",
    }),
    replay: z.string().optional().meta({ description: "The admin route to use instead" }),
  })
  .meta({
    id: "DeadLetterDeleteWouldLeaveGapProblem",
    description:
      "RFC 9457 problem details; the group, the aggregate, the versions involved and the replay route to use instead",
  });

/** The group whose versions live in the audit log (main.ts names it so); any other keeps the entity copy. */
const AUDIT_GROUP = "audit";
const ENTITY_EVENTS = new Set(["EntityItemCreated", "EntityItemUpdated"]);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What the broker's listing tells of a dead letter that may be an entity version. */
export interface DeadEntityEvent {
  type: string;
  aggregateId: string;
  messageId: string;
}

/**
 * The entity event a dead letter claims to be, from its listed properties (the body is not
 * listed), read like the receiver's parser does; undefined when it is none: then no group can ever
 * apply it, and deleting it changes nothing. The event schema requires a UUID entity id.
 */
export function entityEventOf(letter: DeadLetter): DeadEntityEvent | undefined {
  const listed = letter.properties["aggregate_id"];
  const aggregate = (typeof listed === "string" ? listed : letter.groupId)?.trim();
  const { type, messageId } = letter;
  if (type === undefined || !ENTITY_EVENTS.has(type) || messageId === undefined) return undefined;
  if (aggregate === undefined || !UUID.test(aggregate)) return undefined;
  return { type, aggregateId: aggregate, messageId };
}

/**
 * Why deleting this dead letter would leave a version gap in its group, or undefined when it would
 * not. Deletable: a message the group already processed (by message id: a duplicate), a creation of
 * an entity the group holds, and one the group rejected as poison (it can never apply it as it is).
 * An update's own version is in its body, so an update the group has not processed is kept even if
 * the same version came under another message id: replaying such a copy is harmless.
 */
export function gapRefusal(
  group: string,
  letterId: number,
  event: DeadEntityEvent,
  state: DeadLetterApplyState,
): HttpProblem | undefined {
  if (state.applied || state.lastFailureKind === "poison") return undefined;
  const version = event.type === "EntityItemCreated" ? 1 : null;
  if (version !== null && state.appliedVersion !== undefined && state.appliedVersion >= version)
    return undefined;
  const replay = `/api/DeadLetters/${letterId}/replay?group=${encodeURIComponent(group)}`;
  const holds =
    state.appliedVersion === undefined
      ? "has applied no version of it yet"
      : `has applied it up to version ${state.appliedVersion} and waits for version ${state.appliedVersion + 1}`;
  return new HttpProblem(
    409,
    "Deleting would leave a version gap",
    `Dead letter ${letterId} (${event.type}${version === null ? "" : ` version ${version}`}, message ` +
      `${event.messageId}) is a version of EntityItem ${event.aggregateId} that consumer group ${group} has ` +
      `not applied; the group ${holds}. It applies an entity's versions in order: without this one it would ` +
      `refuse every later version of ${event.aggregateId} as a version gap, for good. Replay it instead ` +
      `(POST ${replay}).`,
    {
      group,
      aggregateId: event.aggregateId,
      messageId: event.messageId,
      eventType: event.type,
      version,
      appliedVersion: state.appliedVersion ?? null,
      replay,
    },
  );
}

/**
 * The dead letter with this broker id, from the listing (management has no lookup by id): 404 when
 * the queue does not hold it. Past the listing's page it cannot be checked: refused, not deleted unseen.
 */
export async function findDeadLetter(
  dlq: Pick<DeadLetterOperations, "queue" | "browse">,
  id: number,
): Promise<DeadLetter> {
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

/** Throws the 409 when deleting this dead letter would leave a version gap in the group (one query). */
export async function refuseDeleteThatLeavesGap(
  db: Database,
  group: string,
  letter: DeadLetter,
): Promise<void> {
  const event = entityEventOf(letter);
  if (event === undefined) return;
  const projection: VersionedProjection = group === AUDIT_GROUP ? "audit-log" : "entity-copy";
  const state = await deadLetterApplyState(db, {
    projection,
    group,
    aggregateId: event.aggregateId,
    messageId: event.messageId,
  });
  const refusal = gapRefusal(group, letter.id, event, state);
  if (refusal !== undefined) throw refusal;
}
