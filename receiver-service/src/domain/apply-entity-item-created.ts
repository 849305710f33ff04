import type { EntityItemCreatedEvent } from "./events.js";
import type { ReceivedItemsUnitOfWork } from "./inbox.js";

/**
 * The effect of EntityItemCreated, for a message id the inbox has just recorded in the same
 * transaction: the entity copy. An entity that already exists (re-published under a new message id)
 * is already applied: recorded by the inbox, not repeated.
 */
export async function entityItemCreatedEffect(
  uow: ReceivedItemsUnitOfWork,
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
