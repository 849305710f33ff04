import type { Message } from "rhea";
import type { IncomingEvent } from "../domain/events.js";
import type { ApplyResult } from "../domain/inbox.js";
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

export interface ProcessorOptions {
  /** The consumer group's use case: apply the event exactly once (inbox + effect in one transaction). */
  apply: (event: IncomingEvent) => Promise<ApplyResult>;
  /**
   * Runs after the commit and before the accept, for first applications and duplicates alike
   * (e.g. publishing a delivery receipt). If it fails the delivery is retried: the redelivery is a
   * duplicate for the inbox and runs this again, so it happens at least once per message.
   */
  afterApply?: (event: IncomingEvent, result: ApplyResult) => Promise<void>;
}

/** Parse, validate, apply in one transaction, and decide the outcome. Never throws. */
export function createMessageProcessor(options: ProcessorOptions): MessageProcessor {
  return async (message) => {
    const parsed = parseMessage(message);
    if (!parsed.ok) {
      return parsed.messageId === undefined
        ? { action: "reject", reason: parsed.reason }
        : { action: "reject", reason: parsed.reason, messageId: parsed.messageId };
    }
    const { event } = parsed;
    const outcome = await applyOne(options.apply, event);
    return outcome.action === "accept" ? followUp(options.afterApply, outcome) : outcome;
  };
}

/** Applies one event and turns an error into reject (poison) or retry (transient). Never throws. */
export async function applyOne(
  apply: (event: IncomingEvent) => Promise<ApplyResult>,
  event: IncomingEvent,
): Promise<Outcome> {
  try {
    return { action: "accept", result: await apply(event), event };
  } catch (error) {
    const reason = describeError(error);
    return classifyError(error) === "poison"
      ? { action: "reject", reason, messageId: event.messageId }
      : { action: "retry", reason, messageId: event.messageId };
  }
}

/** Runs the follow-up of a committed event; a failure turns the accept into a retry. Never throws. */
export async function followUp(
  afterApply: ProcessorOptions["afterApply"],
  outcome: Extract<Outcome, { action: "accept" }>,
): Promise<Outcome> {
  if (afterApply === undefined) return outcome;
  try {
    await afterApply(outcome.event, outcome.result);
    return outcome;
  } catch (error) {
    return {
      action: "retry",
      reason: `applied, but the follow-up failed: ${describeError(error)}`,
      messageId: outcome.event.messageId,
    };
  }
}
