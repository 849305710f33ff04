import type { IncomingEvent } from "./events.js";
import type { ApplyResult, InboxStore, InboxUnitOfWork } from "./inbox.js";

/**
 * Inbox row + effect in one transaction: remember the message id, run the effect, mark it
 * processed. The caller acknowledges the message only after this resolves, so a crash at any
 * point either leaves nothing behind (redelivery applies it) or leaves the inbox row (redelivery
 * is recognised as a duplicate).
 */
export function applyOnce(
  store: InboxStore,
  event: IncomingEvent,
  effect: (uow: InboxUnitOfWork) => Promise<ApplyResult>,
): Promise<ApplyResult> {
  return store.inTransaction(async (uow) => {
    const firstTime = await uow.recordMessage(event);
    if (!firstTime) return "duplicate";
    const result = await effect(uow);
    await uow.markProcessed(event.messageId);
    return result;
  });
}
