import { VersionGapError } from "./apply-entity-item-updated.js";
import type { IncomingEvent } from "./events.js";
import type { BatchApplyResult, BatchInboxStore } from "./inbox.js";
import { receiverHandlers } from "./receiver-handlers.js";

/**
 * Applies a batch of events exactly once, in one transaction: one multi-row inbox insert (a
 * conflict = already applied = duplicate), then the effect of each new event in the given order
 * (which keeps per-aggregate order: version n is applied after n - 1 of the same batch), then one
 * update marking them processed. Each effect is the event's handler in the receiver's registry
 * (receiver-handlers.ts). An update whose predecessor is not applied yet (a version gap, found
 * before anything of it is written) is deferred on its own: its inbox row is removed again and its
 * result is the gap, while the rest of the batch commits. Any other error rolls the whole
 * batch back and is thrown: the caller then applies the events one at a time, so a failing event
 * cannot fail its neighbours.
 *
 * @returns one result per event, in the same order
 */
export async function applyEvents(
  store: BatchInboxStore,
  events: readonly IncomingEvent[],
): Promise<BatchApplyResult[]> {
  return store.inBatchTransaction(async (uow) => {
    const fresh = await uow.recordMessages(events);
    const results: BatchApplyResult[] = [];
    const deferred: string[] = [];
    for (const event of events) {
      // delete: a second copy of the same id in one batch is a duplicate of the first.
      if (!fresh.delete(event.messageId)) {
        results.push("duplicate");
        continue;
      }
      try {
        results.push(await receiverHandlers.handle(event, uow));
      } catch (error) {
        if (!(error instanceof VersionGapError)) throw error;
        results.push(error);
        deferred.push(event.messageId);
      }
    }
    if (deferred.length > 0) await uow.forgetMessages(deferred);
    const processed = events
      .filter((_, i) => results[i] !== "duplicate" && !(results[i] instanceof VersionGapError))
      .map((e) => e.messageId);
    if (processed.length > 0) await uow.markAllProcessed(processed);
    return results;
  });
}
