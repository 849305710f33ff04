import type { Message } from "rhea";
import type { IncomingEvent } from "../domain/events.js";
import { isTransientConnectionError } from "@outbox/service-defaults";
import { VersionGapError } from "../domain/apply-entity-item-updated.js";
import type { BatchApplyResult } from "../domain/inbox.js";
import { describeError } from "./classify-error.js";
import { applyOne, followUp, type Outcome, type ProcessorOptions } from "./process-message.js";
import { parseMessage } from "./parse-message.js";

/** One delivery of a batch, with a way to run work inside its own process span. */
export interface BatchItem {
  message: Message;
  run<T>(work: () => Promise<T>): Promise<T>;
}

/** What became of a batch: one outcome per delivery (same order), and whether it fell back. */
export interface BatchResult {
  outcomes: Outcome[];
  /** The batch transaction failed and the events were applied one at a time. */
  fellBack: boolean;
}

/** Decides the outcome of every delivery of a batch. Never throws. */
export type BatchProcessor = (items: readonly BatchItem[]) => Promise<BatchResult>;

export interface BatchProcessorOptions extends ProcessorOptions {
  /**
   * Applies all events in one transaction, one result per event in order. An event deferred by a
   * version gap is its own result (nothing of it written); any other error fails the whole batch.
   */
  applyBatch: (events: readonly IncomingEvent[]) => Promise<BatchApplyResult[]>;
  /** Told why a batch transaction failed, before its events are applied one at a time. */
  onFallback?: (events: number, error: unknown) => void;
}

/**
 * Parse each delivery (poison is rejected on its own), apply the valid events in one transaction,
 * then run the follow-up (one receipt) once for every committed event, in the first message's
 * span; if it fails, all of them are retried. When the batch transaction fails, nothing of it
 * committed: the events are applied one at a time, in order, with exactly the single-message
 * outcomes, so a failing event fails only itself; the ones that committed still share one receipt.
 * Two failures need no such fallback: a version gap defers only its own event (retried, the batch
 * commits), and an unreachable database would fail every event again, so they are all retried at
 * once and the consumer pauses.
 */
export function createBatchProcessor(options: BatchProcessorOptions): BatchProcessor {
  return async (items) => {
    const outcomes = new Array<Outcome>(items.length);
    const valid: Array<{ index: number; event: IncomingEvent; item: BatchItem }> = [];
    items.forEach((item, index) => {
      const parsed = parseMessage(item.message);
      if (parsed.ok) valid.push({ index, event: parsed.event, item });
      else
        outcomes[index] =
          parsed.messageId === undefined
            ? { action: "reject", reason: parsed.reason }
            : { action: "reject", reason: parsed.reason, messageId: parsed.messageId };
    });
    if (valid.length === 0) return { outcomes, fellBack: false };

    let results: BatchApplyResult[] | undefined;
    let unavailable: unknown;
    try {
      // The batch's queries run in its first message's process span: a lone message (the usual
      // case at low load) keeps its whole journey, database writes included, in one trace.
      const first = valid[0] as (typeof valid)[number];
      results = await first.item.run(() => options.applyBatch(valid.map((v) => v.event)));
      if (results.length !== valid.length) {
        throw new Error(`batch apply returned ${results.length} results for ${valid.length} events`);
      }
    } catch (error) {
      results = undefined;
      if (isTransientConnectionError(error)) unavailable = error;
      else options.onFallback?.(valid.length, error);
    }
    if (results !== undefined) {
      valid.forEach((v, i) => {
        const result = results[i] as BatchApplyResult;
        outcomes[v.index] =
          result instanceof VersionGapError
            ? { action: "retry", reason: result.message, messageId: v.event.messageId }
            : { action: "accept", result, event: v.event };
      });
    } else if (unavailable !== undefined) {
      const reason = describeError(unavailable);
      for (const v of valid) {
        outcomes[v.index] = {
          action: "retry",
          reason,
          messageId: v.event.messageId,
          databaseUnavailable: true,
        };
      }
    } else {
      // One at a time and in order: per-aggregate order holds within the batch too.
      for (const v of valid) outcomes[v.index] = await v.item.run(() => applyOne(options.apply, v.event));
    }

    // One follow-up (receipt) for every committed event, in the first one's process span.
    const accepted = valid.flatMap(({ index, item }) => {
      const outcome = outcomes[index];
      return outcome?.action === "accept" ? [{ index, item, outcome }] : [];
    });
    const runIn = accepted[0]?.item;
    if (runIn !== undefined) {
      const followed = await runIn.run(() =>
        followUp(
          options.afterApply,
          accepted.map((a) => a.outcome),
        ),
      );
      accepted.forEach(({ index }, i) => {
        outcomes[index] = followed[i] as Outcome;
      });
    }
    return { outcomes, fellBack: results === undefined && unavailable === undefined };
  };
}
