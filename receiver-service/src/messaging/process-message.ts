import type { Message } from "rhea";
import { applyEvent } from "../domain/apply-event.js";
import type { IncomingEvent } from "../domain/events.js";
import type { ApplyResult, InboxStore } from "../domain/inbox.js";
import { classifyError, describeError } from "./classify-error.js";
import { parseMessage } from "./parse-message.js";

/** What to tell the broker about one delivery. */
export type Outcome =
  /** Committed (or already committed earlier): accept. */
  | { action: "accept"; result: ApplyResult; event: IncomingEvent }
  /** Poison: reject, the broker moves it to the dead-letter address at once. */
  | { action: "reject"; reason: string; messageId?: string }
  /** Transient: modified(delivery_failed), the broker redelivers after its redelivery delay. */
  | { action: "retry"; reason: string; messageId?: string };

export type MessageProcessor = (message: Message) => Promise<Outcome>;

/** Parse, validate, apply in one transaction, and decide the outcome. Never throws. */
export function createMessageProcessor(store: InboxStore): MessageProcessor {
  return async (message) => {
    const parsed = parseMessage(message);
    if (!parsed.ok) {
      return parsed.messageId === undefined
        ? { action: "reject", reason: parsed.reason }
        : { action: "reject", reason: parsed.reason, messageId: parsed.messageId };
    }
    const { event } = parsed;
    try {
      return { action: "accept", result: await applyEvent(store, event), event };
    } catch (error) {
      const reason = describeError(error);
      return classifyError(error) === "poison"
        ? { action: "reject", reason, messageId: event.messageId }
        : { action: "retry", reason, messageId: event.messageId };
    }
  };
}
