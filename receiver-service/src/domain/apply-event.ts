import { applyEntityItemCreated } from "./apply-entity-item-created.js";
import { applyEntityItemUpdated } from "./apply-entity-item-updated.js";
import type { IncomingEvent } from "./events.js";
import type { ApplyResult, InboxStore } from "./inbox.js";

/** Routes a validated event to its use case; a new event type adds a case here. */
export function applyEvent(store: InboxStore, event: IncomingEvent): Promise<ApplyResult> {
  switch (event.type) {
    case "EntityItemCreated":
      return applyEntityItemCreated(store, event);
    case "EntityItemUpdated":
      return applyEntityItemUpdated(store, event);
  }
}
