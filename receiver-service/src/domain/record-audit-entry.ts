import type { IncomingEvent } from "./events.js";
import type { ApplyResult } from "./inbox.js";

/** Where the audit projection keeps its log; one call is one atomic write. */
export interface AuditStore {
  /** Appends the entry; false when this message id is already logged. */
  append(event: IncomingEvent): Promise<boolean>;
}

/**
 * The audit consumer group's use case: log every event once. The log row is keyed by message id,
 * so the insert is both the inbox check and the effect, in one statement: a redelivery (or a
 * second instance racing on the same message) finds the row and changes nothing.
 */
export async function recordAuditEntry(store: AuditStore, event: IncomingEvent): Promise<ApplyResult> {
  return (await store.append(event)) ? "applied" : "duplicate";
}

/** An audit store that can log many events in one atomic statement. */
export interface BatchAuditStore {
  /** Appends the entries; returns the message ids that were not logged before. */
  appendAll(events: readonly IncomingEvent[]): Promise<Set<string>>;
}

/** The audit use case for a batch: one insert for all, one result per event in order. */
export async function recordAuditEntries(
  store: BatchAuditStore,
  events: readonly IncomingEvent[],
): Promise<ApplyResult[]> {
  const fresh = await store.appendAll(events);
  // delete: a second copy of the same id in one batch is a duplicate of the first.
  return events.map((event) => (fresh.delete(event.messageId) ? "applied" : "duplicate"));
}
