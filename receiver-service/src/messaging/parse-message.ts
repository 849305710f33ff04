import { readEnvelope } from "@outbox/messaging";
import type { Message } from "rhea";
import { validateEvent, type IncomingEvent } from "../domain/events.js";

export type ParseResult =
  | { ok: true; event: IncomingEvent }
  /** Poison: retrying can never help. messageId is kept when readable, for the failure record. */
  | { ok: false; reason: string; messageId?: string };

/**
 * Turns an AMQP message (the event envelope of @outbox/messaging, as the sender's relay produces
 * it) into a validated event, or says why it is poison. Pure: no I/O, never throws.
 */
export function parseMessage(message: Message): ParseResult {
  const read = readEnvelope(message);
  if (!read.ok) return read;
  const { messageId, type, version, aggregateId, payload } = read.envelope;
  const validated = validateEvent({ messageId, type, version, aggregateId }, payload);
  return validated.ok ? validated : { ok: false, reason: validated.reason, messageId };
}
