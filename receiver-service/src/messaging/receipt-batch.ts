import type { AppliedReceiptEntry } from "@outbox/messaging";
import type { IncomingEvent } from "../domain/events.js";
import type { ApplyResult } from "../domain/inbox.js";

/** A message whose transaction committed (or had committed before): what a receipt acknowledges. */
export interface AppliedMessage {
  event: IncomingEvent;
  result: ApplyResult;
}

/** The receipt entries (the receipt contract of @outbox/messaging) of the applied messages, in order. */
export function receiptEntries(applied: readonly AppliedMessage[]): AppliedReceiptEntry[] {
  return applied.map(({ event, result }) => ({
    messageId: event.messageId,
    aggregateId: event.aggregateId,
    result,
  }));
}
