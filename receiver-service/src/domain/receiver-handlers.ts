import type { InboxTransaction } from "@outbox/messaging";
import { entityItemCreatedEffect } from "./apply-entity-item-created.js";
import { entityItemUpdatedEffect } from "./apply-entity-item-updated.js";
import { entityEvents } from "./events.js";
import type { ReceivedItemsUnitOfWork } from "./inbox.js";

/**
 * The receiver group's handlers: each event's effect, inside the inbox's transaction that has just
 * recorded its message id (`unitOfWork` gives the entity copies on that transaction). A new event
 * type declared in events.ts needs its handler here (the compiler says so).
 */
export function receiverHandlers(unitOfWork: (tx: InboxTransaction) => ReceivedItemsUnitOfWork) {
  return entityEvents.registry<InboxTransaction, "applied" | "already-applied">({
    EntityItemCreated: (event, tx) => entityItemCreatedEffect(unitOfWork(tx), event),
    EntityItemUpdated: (event, tx) => entityItemUpdatedEffect(unitOfWork(tx), event),
  });
}
