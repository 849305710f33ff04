import type { IncomingEvent } from "./events.js";
import { applyOnce } from "./apply-once.js";
import type { ApplyResult, InboxStore } from "./inbox.js";
import { receiverHandlers } from "./receiver-handlers.js";

/** Applies a validated event exactly once with its handler from the receiver's registry. */
export function applyEvent(store: InboxStore, event: IncomingEvent): Promise<ApplyResult> {
  return applyOnce(store, event, (uow) => receiverHandlers.handle(event, uow));
}
