import { count, desc, eq } from "drizzle-orm";
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

export interface DeliveryFailure {
  messageId: string | undefined;
  attempt: number;
  kind: DeliveryFailureKind;
  error: string;
}

/** Stored in its own tiny transaction, outside the processing transaction that failed. */
export async function recordDeliveryFailure(db: Database, failure: DeliveryFailure): Promise<void> {
  await db.insert(deliveryFailures).values({
    messageId: failure.messageId ?? null,
    attempt: failure.attempt,
    kind: failure.kind,
    // Bounded: an error message is diagnostics, not payload storage.
    error: failure.error.slice(0, 2000),
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
