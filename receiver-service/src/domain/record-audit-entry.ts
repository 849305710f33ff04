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
