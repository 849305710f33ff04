import { count, desc, eq, sql } from "drizzle-orm";
import type { Database } from "./db.js";
import {
  deliveryFailures,
  duplicateDeliveries,
  receivedItems,
  type DeliveryFailureKind,
  type ReceivedItemRow,
} from "./schema.js";

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

export interface DeliveryFailure {
  messageId: string | undefined;
  group?: string;
  attempt: number;
  kind: DeliveryFailureKind;
  error: string;
}

/**
 * PostgreSQL text cannot hold U+0000, and a poison message's id or its parse error (which quotes the
 * body) can contain it: the insert failed and the dead letter had no reason. U+FFFD stands in.
 */
function storable(text: string): string {
  return text.replaceAll("\u0000", "\uFFFD");
}

/** Stored in its own tiny transaction, outside the processing transaction that failed. */
export async function recordDeliveryFailure(db: Database, failure: DeliveryFailure): Promise<void> {
  await db.insert(deliveryFailures).values({
    messageId: failure.messageId === undefined ? null : storable(failure.messageId),
    consumerGroup: failure.group ?? null,
    attempt: failure.attempt,
    kind: failure.kind,
    // Bounded: an error message is diagnostics, not payload storage.
    error: storable(failure.error.slice(0, 2000)),
  });
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

/** Remembers a skipped duplicate delivery (best effort, outside the processing transaction). */
export async function recordDuplicateDelivery(
  db: Database,
  duplicate: { messageId: string; group?: string; deliveryCount: number },
): Promise<void> {
  await db.insert(duplicateDeliveries).values({
    messageId: duplicate.messageId,
    consumerGroup: duplicate.group ?? null,
    deliveryCount: duplicate.deliveryCount,
  });
}
