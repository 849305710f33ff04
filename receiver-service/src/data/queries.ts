import { count, desc, eq, sql } from "drizzle-orm";
import type { Database } from "./db.js";
import { deliveryFailures, receivedItems, type DeliveryFailureKind, type ReceivedItemRow } from "./schema.js";

export interface Page<T> {
  items: T[];
  total: number;
}

/** Received items, newest first (ties broken by id so pages are stable). */
export async function listReceivedItems(
  db: Database,
  page: number,
  pageSize: number,
): Promise<Page<ReceivedItemRow>> {
  const [items, totals] = await Promise.all([
    db
      .select()
      .from(receivedItems)
      .orderBy(desc(receivedItems.receivedAt), desc(receivedItems.id))
      .limit(pageSize)
      .offset((page - 1) * pageSize),
    db.select({ total: count() }).from(receivedItems),
  ]);
  return { items, total: totals[0]?.total ?? 0 };
}

export async function findReceivedItem(db: Database, id: string): Promise<ReceivedItemRow | undefined> {
  const rows = await db.select().from(receivedItems).where(eq(receivedItems.id, id)).limit(1);
  return rows[0];
}

export async function listDeliveryFailures(db: Database, page: number, pageSize: number) {
  const [items, totals] = await Promise.all([
    db
      .select()
      .from(deliveryFailures)
      .orderBy(desc(deliveryFailures.occurredAt), desc(deliveryFailures.id))
      .limit(pageSize)
      .offset((page - 1) * pageSize),
    db.select({ total: count() }).from(deliveryFailures),
  ]);
  return { items, total: totals[0]?.total ?? 0 };
}

export interface FailureSummary {
  /** Delivery attempts seen (the highest attempt number recorded). */
  attempts: number;
  /** The error of the latest recorded failure: why the message is where it is. */
  lastError: string;
  lastKind: DeliveryFailureKind;
  lastFailedAt: Date;
}

/** The latest recorded failure of each message id (for the dead-letter listing). */
export async function failureSummaries(
  db: Database,
  group: string,
  messageIds: string[],
): Promise<Map<string, FailureSummary>> {
  if (messageIds.length === 0) return new Map();
  const result = await db.execute<{
    message_id: string;
    attempts: number;
    error: string;
    kind: DeliveryFailureKind;
    occurred_at: Date | string;
  }>(sql`
    SELECT DISTINCT ON (message_id) message_id, error, kind, occurred_at,
           max(attempt) OVER (PARTITION BY message_id) AS attempts
      FROM delivery_failures
     WHERE message_id IN ${messageIds} AND consumer_group = ${group}
     ORDER BY message_id, occurred_at DESC, id DESC`);
  return new Map(
    result.rows.map((row) => [
      row.message_id,
      {
        attempts: Number(row.attempts),
        lastError: row.error,
        lastKind: row.kind,
        lastFailedAt: new Date(row.occurred_at),
      },
    ]),
  );
}

/** Where a consumer group keeps what it applied, per aggregate and in version order. */
export type VersionedProjection = "entity-copy" | "audit-log";

/** What a consumer group holds for one dead letter's message id and aggregate. */
export interface DeadLetterApplyState {
  /** The group has this message id among what it processed (replaying it would be a duplicate). */
  applied: boolean;
  /** The aggregate's highest version the group applied (undefined: none). */
  appliedVersion: number | undefined;
  /** The kind of the group's latest recorded failure of this message id (best effort). */
  lastFailureKind: DeliveryFailureKind | undefined;
}

/**
 * One statement, every part an index lookup: whether the group processed the message id (the
 * receiver group: its inbox, or the permanent effect rows the inbox retention leaves; the audit
 * group: its log), the aggregate's applied version, and the group's latest failure kind.
 * `aggregateId` must be a UUID for the entity copy (its key column is uuid).
 */
export async function deadLetterApplyState(
  db: Database,
  target: { projection: VersionedProjection; group: string; aggregateId: string; messageId: string },
): Promise<DeadLetterApplyState> {
  const { group, aggregateId, messageId } = target;
  const groupState =
    target.projection === "entity-copy"
      ? sql`(SELECT version FROM received_items WHERE id = ${aggregateId}::uuid) AS applied_version,
            (EXISTS (SELECT 1 FROM inbox
                      WHERE consumer_group IN (${group}, '*') AND message_id = ${messageId})
             OR EXISTS (SELECT 1 FROM received_items WHERE message_id = ${messageId})
             OR EXISTS (SELECT 1 FROM received_item_versions
                         WHERE entity_id = ${aggregateId}::uuid AND message_id = ${messageId})) AS applied`
      : sql`(SELECT max(aggregate_version) FROM audit_log WHERE aggregate_id = ${aggregateId}) AS applied_version,
            EXISTS (SELECT 1 FROM audit_log WHERE message_id = ${messageId}) AS applied`;
  const result = await db.execute<{
    applied_version: number | null;
    applied: boolean;
    last_failure_kind: DeliveryFailureKind | null;
  }>(sql`
    SELECT ${groupState},
           (SELECT kind FROM delivery_failures
             WHERE message_id = ${messageId} AND consumer_group = ${group}
             ORDER BY occurred_at DESC, id DESC LIMIT 1) AS last_failure_kind`);
  const row = result.rows[0];
  return {
    applied: row?.applied === true,
    appliedVersion:
      row?.applied_version === null || row === undefined ? undefined : Number(row.applied_version),
    lastFailureKind: row?.last_failure_kind ?? undefined,
  };
}
