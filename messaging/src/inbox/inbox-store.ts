import type pg from "pg";
import type { InboxTables } from "./inbox-tables.js";

/** Anything that runs a parameterised query: a pool, or a client inside a transaction. */
export interface Queryable {
  query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

/** The inbox row of one message. */
export interface InboxEntry {
  messageId: string;
  type: string;
  version: number;
  key: string | undefined;
}

/**
 * Rows of an upgraded single-group inbox (see migrations/inbox/0001_inbox.sql): applied before
 * consumer groups existed, so they count as applied by every group.
 */
export const UNGROUPED = "*";

/**
 * Records the messages' ids for the group in one statement and returns the ids that were new.
 * ON CONFLICT DO NOTHING also skips a second copy of an id within the statement, and a concurrent
 * transaction recording the same id wins or makes this one wait. Sorted by id, so two batches with
 * ids in common lock them in the same order instead of deadlocking. `ungrouped`: also count rows
 * of the upgraded single-group inbox as recorded.
 */
export async function recordMessages(
  tx: Queryable,
  tables: InboxTables,
  group: string,
  entries: readonly InboxEntry[],
  ungrouped: boolean,
): Promise<Set<string>> {
  if (entries.length === 0) return new Set();
  const sorted = [...entries].sort((a, b) =>
    a.messageId < b.messageId ? -1 : a.messageId > b.messageId ? 1 : 0,
  );
  const legacy = ungrouped
    ? `WHERE NOT EXISTS (SELECT 1 FROM ${tables.inbox} old WHERE old.consumer_group = '${UNGROUPED}' AND old.message_id = m.message_id)`
    : "";
  const result = await tx.query<{ message_id: string }>(
    `INSERT INTO ${tables.inbox} (consumer_group, message_id, type, version, aggregate_id)
     SELECT $1, m.message_id, m.type, m.version, m.aggregate_id
       FROM unnest($2::text[], $3::text[], $4::int[], $5::text[]) WITH ORDINALITY
            AS m(message_id, type, version, aggregate_id, ord)
       ${legacy}
      ORDER BY m.ord
     ON CONFLICT (consumer_group, message_id) DO NOTHING
     RETURNING message_id`,
    [
      group,
      sorted.map((e) => e.messageId),
      sorted.map((e) => e.type),
      sorted.map((e) => e.version),
      sorted.map((e) => e.key ?? null),
    ],
  );
  return new Set(result.rows.map((row) => row.message_id));
}

/** Removes ids recorded earlier in the same transaction (messages deferred by RetryLaterError). */
export async function forgetMessages(
  tx: Queryable,
  tables: InboxTables,
  group: string,
  messageIds: readonly string[],
): Promise<void> {
  if (messageIds.length === 0) return;
  await tx.query(`DELETE FROM ${tables.inbox} WHERE consumer_group = $1 AND message_id = ANY($2::text[])`, [
    group,
    messageIds,
  ]);
}

/** Marks the ids processed. clock_timestamp(), not now(): now() is the transaction start (received_at). */
export async function markProcessed(
  tx: Queryable,
  tables: InboxTables,
  group: string,
  messageIds: readonly string[],
): Promise<void> {
  if (messageIds.length === 0) return;
  await tx.query(
    `UPDATE ${tables.inbox} SET processed_at = clock_timestamp()
      WHERE consumer_group = $1 AND message_id = ANY($2::text[])`,
    [group, messageIds],
  );
}

/** Whether the inbox still holds rows of the upgraded single-group inbox (none are ever added). */
export async function hasUngroupedRows(db: Queryable, tables: InboxTables): Promise<boolean> {
  const result = await db.query<{ present: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM ${tables.inbox} WHERE consumer_group = '${UNGROUPED}') AS present`,
  );
  return result.rows[0]?.present === true;
}

export interface FailureRecord {
  messageId: string | undefined;
  group: string;
  attempt: number;
  kind: "transient" | "poison";
  error: string;
}

/**
 * PostgreSQL text cannot hold U+0000, and a poison message's id or its parse error (which quotes the
 * body) can contain it: U+FFFD stands in, or the record (the dead letter's reason) would be lost.
 */
function storable(text: string): string {
  return text.replaceAll("\u0000", "\uFFFD");
}

/** Stored in its own tiny transaction, outside the processing transaction that failed. */
export async function recordFailure(
  db: Queryable,
  tables: InboxTables,
  failure: FailureRecord,
): Promise<void> {
  await db.query(
    `INSERT INTO ${tables.failures} (message_id, consumer_group, attempt, kind, error) VALUES ($1, $2, $3, $4, $5)`,
    [
      failure.messageId === undefined ? null : storable(failure.messageId),
      failure.group,
      failure.attempt,
      failure.kind,
      // Bounded: an error message is diagnostics, not payload storage.
      storable(failure.error.slice(0, 2000)),
    ],
  );
}

/** Remembers a skipped duplicate delivery (best effort, outside the processing transaction). */
export async function recordDuplicate(
  db: Queryable,
  tables: InboxTables,
  duplicate: { messageId: string; group: string; deliveryCount: number },
): Promise<void> {
  await db.query(
    `INSERT INTO ${tables.duplicates} (message_id, consumer_group, delivery_count) VALUES ($1, $2, $3)`,
    [storable(duplicate.messageId), duplicate.group, duplicate.deliveryCount],
  );
}
