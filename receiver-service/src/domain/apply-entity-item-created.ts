import type { EntityItemCreatedEvent } from "./events.js";
import { applyOnce } from "./apply-once.js";
import type { ApplyResult, InboxStore, InboxUnitOfWork } from "./inbox.js";

/**
 * Applies EntityItemCreated exactly once: remember the message id and store the entity copy in
 * one transaction. The caller acknowledges the message only after this resolves, so a crash at
 * any point either leaves nothing behind (redelivery applies it) or leaves the inbox row
 * (redelivery is recognised as a duplicate).
 */
export async function applyEntityItemCreated(
  store: InboxStore,
  event: EntityItemCreatedEvent,
): Promise<ApplyResult> {
  return applyOnce(store, event, (uow) => entityItemCreatedEffect(uow, event));
}

/** The effect alone, for a message id the inbox has just recorded in the same transaction. */
export async function entityItemCreatedEffect(
  uow: InboxUnitOfWork,
  event: EntityItemCreatedEvent,
): Promise<"applied" | "already-applied"> {
  const inserted = await uow.insertReceivedItem({
    id: event.payload.item.id,
    messageId: event.messageId,
    name: event.payload.item.name,
    description: event.payload.item.description,
    sourceCreatedAt: new Date(event.payload.createdAt),
  });
  return inserted ? "applied" : "already-applied";
}
