import { VersionGapError } from "./apply-entity-item-updated.js";
import { entityEvents, type IncomingEvent } from "./events.js";
import type { ApplyResult, BatchApplyResult } from "./inbox.js";

/** What the audit use case may do inside its one transaction. */
export interface AuditLogUnitOfWork {
  /** The message ids among these that are already logged. */
  loggedMessageIds(messageIds: readonly string[]): Promise<Set<string>>;
  /** The highest aggregate version logged for each of these aggregates (absent: none logged). */
  latestVersions(aggregateIds: readonly string[]): Promise<Map<string, number>>;
  /**
   * Appends the entries in this order (the log's order); returns the message ids it appended. An
   * entry a concurrent transaction logged first (same message id, or same aggregate version) is
   * skipped, not an error.
   */
  append(entries: readonly AuditEntry[]): Promise<Set<string>>;
}

export interface AuditEntry {
  event: IncomingEvent;
  aggregateVersion: number;
}

/** Where the audit projection keeps its log: one call of the work is one transaction. */
export interface AuditStore {
  inTransaction<T>(work: (log: AuditLogUnitOfWork) => Promise<T>): Promise<T>;
}

/**
 * One audit batch as its handlers see it: the ids and versions already logged (read once for the
 * batch) and the entries to append, in order.
 */
export class AuditBatch {
  readonly entries: AuditEntry[] = [];

  constructor(
    private readonly logged: Set<string>,
    private readonly latest: Map<string, number>,
  ) {}

  /** Logs the event as that version of its aggregate, or says why not (see recordAuditEntries). */
  log(event: IncomingEvent, aggregateVersion: number): BatchApplyResult {
    // A second copy of an id in the same batch is a duplicate of the first.
    if (this.logged.has(event.messageId)) return "duplicate";
    this.logged.add(event.messageId);
    const current = this.latest.get(event.aggregateId) ?? 0;
    if (aggregateVersion <= current) return "already-applied";
    if (aggregateVersion > current + 1) {
      return new VersionGapError(event.aggregateId, current === 0 ? undefined : current, aggregateVersion);
    }
    this.latest.set(event.aggregateId, aggregateVersion);
    this.entries.push({ event, aggregateVersion });
    return "applied";
  }
}

/**
 * The audit group's handlers: the aggregate version each event brings (1 for the creation, the
 * entity's version for an update), logged in version order.
 */
export const auditHandlers = entityEvents.registry<AuditBatch, BatchApplyResult>({
  EntityItemCreated: (event, batch) => batch.log(event, 1),
  EntityItemUpdated: (event, batch) => batch.log(event, event.payload.version),
});

/**
 * The audit consumer group's use case: log every event once, and each aggregate's events in
 * version order. A redelivery finds its message id and changes nothing. An event that overtook
 * its predecessor (possible when a consumer dies with deliveries in flight: the dead consumer's
 * messages come back after the redelivery delay, the later ones of the same aggregate do not wait)
 * is deferred as a version gap (its result; the rest of the batch is logged), a transient failure:
 * the broker redelivers it after the predecessor had its turn. An event whose version is already logged under another message id is
 * the same change sent twice: recorded as already applied, not logged again.
 */
export async function recordAuditEntries(
  store: AuditStore,
  events: readonly IncomingEvent[],
): Promise<BatchApplyResult[]> {
  if (events.length === 0) return [];
  return store.inTransaction((log) => appendAuditEntries(log, events));
}

/**
 * recordAuditEntries' work inside a transaction the caller holds (the inbox consumer's, for the
 * audit group whose log is its own inbox).
 */
export async function appendAuditEntries(
  log: AuditLogUnitOfWork,
  events: readonly IncomingEvent[],
): Promise<BatchApplyResult[]> {
  if (events.length === 0) return [];
  const logged = await log.loggedMessageIds(events.map((e) => e.messageId));
  const latest = await log.latestVersions([...new Set(events.map((e) => e.aggregateId))]);
  const batch = new AuditBatch(logged, latest);
  const results: BatchApplyResult[] = [];
  for (const event of events) results.push(await auditHandlers.handle(event, batch));
  const appended = await log.append(batch.entries);
  // What a concurrent transaction logged first is a duplicate here.
  return results.map((result, i) => {
    const event = events[i];
    return result === "applied" && event !== undefined && !appended.has(event.messageId)
      ? "duplicate"
      : result;
  });
}

/** The audit use case for one event: a version gap is thrown (a transient failure). */
export async function recordAuditEntry(store: AuditStore, event: IncomingEvent): Promise<ApplyResult> {
  const [result] = await recordAuditEntries(store, [event]);
  if (result instanceof VersionGapError) throw result;
  return result ?? "duplicate";
}
