import { z } from "zod";

/**
 * EntityItemCreated v1 payload: the entity exactly as the sender's API returns it.
 * A plain (non-strict) object on purpose: a producer adding a field within the same version must
 * not send every message to the dead-letter queue; unknown keys are dropped.
 */
export const entityItemCreatedV1Schema = z.object({
  id: z.uuid(),
  name: z.string().trim().min(1).max(200),
  description: z.string().max(2000).nullable(),
  createdAt: z.iso.datetime({ offset: true }),
});
export type EntityItemCreatedV1 = z.infer<typeof entityItemCreatedV1Schema>;

/** Metadata every incoming integration event carries, whatever its payload. */
export interface EventEnvelope {
  messageId: string;
  type: string;
  version: number;
  aggregateId: string;
}

/** An incoming event that passed validation; one union member per (type, version) we understand. */
export type IncomingEvent = EventEnvelope & {
  type: "EntityItemCreated";
  version: 1;
  payload: EntityItemCreatedV1;
};

/** The (type, version) pairs this service understands, each with the schema of its payload. */
export const knownEvents = {
  "EntityItemCreated@1": entityItemCreatedV1Schema,
} as const satisfies Record<string, z.ZodType>;

export function eventKey(type: string, version: number): string {
  return `${type}@${version}`;
}

/**
 * Validates a payload for a (type, version): the event, or why it can never be processed.
 * Lives in the domain because "what a valid EntityItemCreated is" is a business rule, not AMQP.
 */
export function validateEvent(
  envelope: EventEnvelope,
  payload: unknown,
): { ok: true; event: IncomingEvent } | { ok: false; reason: string } {
  const key = eventKey(envelope.type, envelope.version);
  if (key !== "EntityItemCreated@1") {
    return { ok: false, reason: `unknown event type/version: ${key}` };
  }
  const parsed = knownEvents[key].safeParse(payload);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .map((issue) => `${issue.path.map(String).join(".") || "(payload)"}: ${issue.message}`)
      .join("; ");
    return { ok: false, reason: `invalid ${key} payload: ${issues}` };
  }
  if (envelope.aggregateId !== parsed.data.id) {
    return {
      ok: false,
      reason: `aggregate id ${envelope.aggregateId} does not match payload id ${parsed.data.id}`,
    };
  }
  return { ok: true, event: { ...envelope, type: "EntityItemCreated", version: 1, payload: parsed.data } };
}
