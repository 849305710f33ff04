import { entityItemCreatedEffect } from "./apply-entity-item-created.js";
import { entityItemUpdatedEffect } from "./apply-entity-item-updated.js";
import { entityEvents } from "./events.js";
import type { ApplyResult, InboxUnitOfWork } from "./inbox.js";

/**
 * The receiver group's handlers: each event's effect, inside the transaction that has just
 * recorded its message id in the inbox. A new event type declared in events.ts needs its handler
 * here (the compiler says so).
 */
export const receiverHandlers = entityEvents.registry<InboxUnitOfWork, ApplyResult>({
  EntityItemCreated: (event, uow) => entityItemCreatedEffect(uow, event),
  EntityItemUpdated: (event, uow) => entityItemUpdatedEffect(uow, event),
});
