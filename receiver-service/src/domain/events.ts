import { carriedTextSchema, ENTITY_ITEM_DESCRIPTION, ENTITY_ITEM_NAME } from "@outbox/service-defaults";
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

/** An incoming event that passed validation, its payload upcast to the current version. */
export type IncomingEvent =
  | (EventEnvelope & { type: "EntityItemCreated"; payload: EntityItemCreatedV2 })
  | (EventEnvelope & { type: "EntityItemUpdated"; payload: EntityItemUpdatedV1 });

export type EntityItemCreatedEvent = Extract<IncomingEvent, { type: "EntityItemCreated" }>;
export type EntityItemUpdatedEvent = Extract<IncomingEvent, { type: "EntityItemUpdated" }>;

interface VersionHandler<T> {
  schema: z.ZodType;
  /** Turns a payload valid for this version into the current version's shape. */
  upcast: (payload: never) => T;
}

/**
 * Every (type, version) this service understands: its zod schema and its upcaster. A producer
 * moving to a new version adds an entry here (and keeps the old ones while old messages may
 * still be queued or sit in a dead-letter queue).
 */
export const eventVersions = {
  EntityItemCreated: {
    1: {
      schema: entityItemCreatedV1Schema,
      upcast: (p: EntityItemCreatedV1): EntityItemCreatedV2 => ({
        item: { id: p.id, name: p.name, description: p.description },
        createdAt: p.createdAt,
      }),
    },
    2: { schema: entityItemCreatedV2Schema, upcast: (p: EntityItemCreatedV2): EntityItemCreatedV2 => p },
  },
  EntityItemUpdated: {
    1: { schema: entityItemUpdatedV1Schema, upcast: (p: EntityItemUpdatedV1): EntityItemUpdatedV1 => p },
  },
} as const satisfies Record<string, Record<number, VersionHandler<unknown>>>;

/**
 * The aggregate version an event brings: 1 for the creation, the entity's version for an update.
 * Consumers that must keep per-aggregate order (the entity copy, the audit log) apply version n
 * only on top of n - 1.
 */
export function aggregateVersionOf(event: IncomingEvent): number {
  return event.type === "EntityItemCreated" ? 1 : event.payload.version;
}

export function eventKey(type: string, version: number): string {
  return `${type}@${version}`;
}

/** "EntityItemCreated@1, EntityItemCreated@2": for error messages and the README. */
export function supportedEvents(): string {
  return Object.entries(eventVersions)
    .flatMap(([type, versions]) => Object.keys(versions).map((v) => eventKey(type, Number(v))))
    .join(", ");
}

/**
 * Validates a payload for a (type, version) and upcasts it: the event, or why it can never be
 * processed (unknown type, unknown version, invalid payload). Lives in the domain because "what a
 * valid EntityItemCreated is" is a business rule, not AMQP.
 */
export function validateEvent(
  envelope: EventEnvelope,
  payload: unknown,
): { ok: true; event: IncomingEvent } | { ok: false; reason: string } {
  const key = eventKey(envelope.type, envelope.version);
  if (envelope.type !== "EntityItemCreated" && envelope.type !== "EntityItemUpdated") {
    return { ok: false, reason: `unknown event type ${envelope.type} (supported: ${supportedEvents()})` };
  }
  const versions: Record<number, VersionHandler<unknown> | undefined> = eventVersions[envelope.type];
  const handler = versions[envelope.version];
  if (handler === undefined) {
    return { ok: false, reason: `unknown event version ${key} (supported: ${supportedEvents()})` };
  }
  const parsed = handler.schema.safeParse(payload);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .map((issue) => `${issue.path.map(String).join(".") || "(payload)"}: ${issue.message}`)
      .join("; ");
    return { ok: false, reason: `invalid ${key} payload: ${issues}` };
  }
  const event: IncomingEvent =
    envelope.type === "EntityItemCreated"
      ? {
          ...envelope,
          type: envelope.type,
          payload: handler.upcast(parsed.data as never) as EntityItemCreatedV2,
        }
      : {
          ...envelope,
          type: envelope.type,
          payload: handler.upcast(parsed.data as never) as EntityItemUpdatedV1,
        };
  const payloadId = event.type === "EntityItemCreated" ? event.payload.item.id : event.payload.id;
  if (envelope.aggregateId !== payloadId) {
    return {
      ok: false,
      reason: `aggregate id ${envelope.aggregateId} does not match payload id ${payloadId}`,
    };
  }
  return { ok: true, event };
}
