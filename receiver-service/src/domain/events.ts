import { carriedTextSchema, ENTITY_ITEM_DESCRIPTION, ENTITY_ITEM_NAME } from "@outbox/service-defaults";
import { defineMessageTypes, messageVersion, type MessageOfTypes } from "@outbox/messaging";
import { z } from "zod";

/**
 * The sender's request limits (one definition in service-defaults), so that every text the sender
 * accepted is applied here: counted in code points like the sender, not in UTF-16 units.
 */
const nameText = carriedTextSchema(ENTITY_ITEM_NAME);
const descriptionText = carriedTextSchema(ENTITY_ITEM_DESCRIPTION).nullable();

/**
 * EntityItemCreated v1 payload: the entity exactly as the sender's API returns it.
 * A plain (non-strict) object on purpose: a producer adding a field within the same version must
 * not send every message to the dead-letter queue; unknown keys are dropped.
 */
export const entityItemCreatedV1Schema = z.object({
  id: z.uuid(),
  name: nameText,
  description: descriptionText,
  createdAt: z.iso.datetime({ offset: true }),
});
export type EntityItemCreatedV1 = z.infer<typeof entityItemCreatedV1Schema>;

/**
 * EntityItemCreated v2: the entity under `item`, the time of the event beside it. The handler
 * only knows this (the current) shape; v1 payloads are upcast to it.
 */
export const entityItemCreatedV2Schema = z.object({
  item: z.object({
    id: z.uuid(),
    name: nameText,
    description: descriptionText,
  }),
  createdAt: z.iso.datetime({ offset: true }),
});
export type EntityItemCreatedV2 = z.infer<typeof entityItemCreatedV2Schema>;

/** Metadata every incoming integration event carries, whatever its payload. */
export interface EventEnvelope {
  messageId: string;
  type: string;
  /** The version the producer sent (recorded in the inbox); the payload is always the current shape. */
  version: number;
  aggregateId: string;
}

/**
 * EntityItemUpdated v1: the entity's new state and the aggregate version it reached (2, 3, ...).
 * Applied only on top of version - 1 (see apply-entity-item-updated.ts).
 */
export const entityItemUpdatedV1Schema = z.object({
  id: z.uuid(),
  name: nameText,
  description: descriptionText,
  version: z.number().int().min(2),
  updatedAt: z.iso.datetime({ offset: true }),
});
export type EntityItemUpdatedV1 = z.infer<typeof entityItemUpdatedV1Schema>;

/**
 * Every (type, version) this service reads: its zod schema and its upcaster to the shape the
 * handlers take. A producer moving to a new version adds an entry here (and keeps the old ones
 * while old messages may still be queued or sit in a dead-letter queue). Both consumer groups
 * declare their handlers for these types (receiver-handlers.ts, record-audit-entry.ts).
 */
export const entityEvents = defineMessageTypes(
  {
    EntityItemCreated: {
      1: messageVersion(entityItemCreatedV1Schema, (p): EntityItemCreatedV2 => ({
        item: { id: p.id, name: p.name, description: p.description },
        createdAt: p.createdAt,
      })),
      2: messageVersion(entityItemCreatedV2Schema),
    },
    EntityItemUpdated: {
      1: messageVersion(entityItemUpdatedV1Schema),
    },
  },
  {
    EntityItemCreated: (event) => sameAggregate(event.aggregateId, event.payload.item.id),
    EntityItemUpdated: (event) => sameAggregate(event.aggregateId, event.payload.id),
  },
);

/** An incoming event that passed validation, its payload upcast to the current version. */
export type IncomingEvent = MessageOfTypes<typeof entityEvents>;

export type EntityItemCreatedEvent = Extract<IncomingEvent, { type: "EntityItemCreated" }>;
export type EntityItemUpdatedEvent = Extract<IncomingEvent, { type: "EntityItemUpdated" }>;

function sameAggregate(aggregateId: string, payloadId: string): string | undefined {
  return aggregateId === payloadId
    ? undefined
    : `aggregate id ${aggregateId} does not match payload id ${payloadId}`;
}
