import { entityItemCreatedEffect } from "./apply-entity-item-created.js";
import { entityItemUpdatedEffect } from "./apply-entity-item-updated.js";
import type { IncomingEvent } from "./events.js";
import type { ApplyResult, BatchInboxStore, BatchInboxUnitOfWork } from "./inbox.js";

/**
 * Applies a batch of events exactly once, in one transaction: one multi-row inbox insert (a
 * conflict = already applied = duplicate), then the effect of each new event in the given order
 * (which keeps per-aggregate order: version n is applied after n - 1 of the same batch), then one
 * update marking them processed. Any error rolls the whole batch back and is thrown: the caller
 * then applies the events one at a time, so a failing event cannot fail its neighbours.
 *
 * @returns one result per event, in the same order
 */
export async function applyEvents(
  store: BatchInboxStore,
  events: readonly IncomingEvent[],
): Promise<ApplyResult[]> {
  return store.inBatchTransaction(async (uow) => {
    const fresh = await uow.recordMessages(events);
    const results: ApplyResult[] = [];
    for (const event of events) {
      // delete: a second copy of the same id in one batch is a duplicate of the first.
      results.push(fresh.delete(event.messageId) ? await applyEffect(uow, event) : "duplicate");
    }
    const processed = events.filter((_, i) => results[i] !== "duplicate").map((e) => e.messageId);
    if (processed.length > 0) await uow.markAllProcessed(processed);
    return results;
  });
}

/** Routes a recorded event to its effect; a new event type adds a case here (and in apply-event.ts). */
function applyEffect(uow: BatchInboxUnitOfWork, event: IncomingEvent): Promise<ApplyResult> {
  switch (event.type) {
    case "EntityItemCreated":
      return entityItemCreatedEffect(uow, event);
    case "EntityItemUpdated":
      return entityItemUpdatedEffect(uow, event);
  }
}
