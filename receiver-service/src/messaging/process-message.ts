import type { Message } from "rhea";
import type { IncomingEvent } from "../domain/events.js";
import type { ApplyResult } from "../domain/inbox.js";
import { isTransientConnectionError } from "@outbox/service-defaults";
import { classifyError, describeError } from "./classify-error.js";
import { parseMessage } from "./parse-message.js";
import type { AppliedMessage } from "./receipt-batch.js";

/** What to tell the broker about one delivery. */
export type Outcome =
  /** Committed (or already committed earlier): accept. */
  | { action: "accept"; result: ApplyResult; event: IncomingEvent }
  /** Poison: reject, the broker moves it to the dead-letter address at once. */
  | { action: "reject"; reason: string; messageId?: string }
  /**
   * Transient: modified(delivery_failed), the broker redelivers after its redelivery delay.
   * `databaseUnavailable`: the database could not be reached (a connection-level failure), so the
   * consumer stops taking deliveries until it answers; any other retry (a version gap, a failed
   * receipt) leaves the consumer running.
   */
  | { action: "retry"; reason: string; messageId?: string; databaseUnavailable?: boolean };

export type MessageProcessor = (message: Message) => Promise<Outcome>;

export interface ProcessorOptions {
  /** The consumer group's use case: apply the event exactly once (inbox + effect in one transaction). */
  apply: (event: IncomingEvent) => Promise<ApplyResult>;
  /**
   * Runs once per commit, after it and before the accepts, with every message it covered: first
   * applications and duplicates alike (e.g. publishing one delivery receipt for them). If it fails
   * each of those deliveries is retried: the redeliveries are duplicates for the inbox and run this
   * again, so it happens at least once per message.
   */
  afterApply?: (applied: readonly AppliedMessage[]) => Promise<void>;
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
    if (outcome.action !== "accept") return outcome;
    return (await followUp(options.afterApply, [outcome]))[0] ?? outcome;
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
    if (classifyError(error) === "poison") return { action: "reject", reason, messageId: event.messageId };
    return isTransientConnectionError(error)
      ? { action: "retry", reason, messageId: event.messageId, databaseUnavailable: true }
      : { action: "retry", reason, messageId: event.messageId };
  }
}

/** An accepted outcome: the message committed (now or before). */
export type Accepted = Extract<Outcome, { action: "accept" }>;

/**
 * Runs the follow-up of committed events once for all of them; if it fails, every one of them
 * turns from accept into retry. Never throws; returns the outcomes in the same order.
 */
export async function followUp(
  afterApply: ProcessorOptions["afterApply"],
  accepted: readonly Accepted[],
): Promise<Outcome[]> {
  if (afterApply === undefined || accepted.length === 0) return [...accepted];
  try {
    await afterApply(accepted.map(({ event, result }) => ({ event, result })));
    return [...accepted];
  } catch (error) {
    const reason = `applied, but the follow-up failed: ${describeError(error)}`;
    return accepted.map(({ event }) => ({ action: "retry", reason, messageId: event.messageId }));
  }
}
