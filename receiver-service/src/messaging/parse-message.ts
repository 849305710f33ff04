import type { Message } from "rhea";
import { entityEvents, type IncomingEvent } from "../domain/events.js";

export type ParseResult =
  | { ok: true; event: IncomingEvent }
  /** Poison: retrying can never help. messageId is kept when readable, for the failure record. */
  | { ok: false; reason: string; messageId?: string };

/**
 * Turns an AMQP message (the event envelope of @outbox/messaging, as the sender's relay produces
 * it) into a validated event of a type and version events.ts declares, or says why it is poison.
 * Pure: no I/O, never throws.
 */
export function parseMessage(message: Message): ParseResult {
  const read = entityEvents.read(message);
  return read.ok ? { ok: true, event: read.message } : read;
}
