import { sql } from "drizzle-orm";
import type { TransactionalSqlDb } from "./sql-db.js";
import type { OutboxTables } from "./tables.js";

/**
 * Advisory lock key of the retention job (a constant shared by all relay instances; outboxes in
 * other schemas of the same database share it too, so they purge one after the other).
 */
export const OUTBOX_RETENTION_LOCK_KEY = 4_242_001;

export interface PurgeOptions {
  olderThanMs: number;
  batchSize: number;
  maxBatches: number;
  /** Ends a pass between two batches. */
  signal?: AbortSignal;
}

export interface PurgeResult {
  deleted: number;
  /** Another instance held the purge lock: it does the work. */
  lockedOut: boolean;
}

/**
 * Deletes published/delivered rows finished more than `olderThanMs` ago, `batchSize` rows per
 * transaction, until none are left or `maxBatches` is reached. Pending and dead rows are never
 * touched. Only one instance runs it at a time: each batch's transaction takes a
 * transaction-level advisory lock with pg_try_advisory_xact_lock and gives up (returns what it
 * deleted so far) when another instance holds it. Small batches keep locks and WAL bursts short,
 * so the relay's claims and the API's inserts never wait long behind the purge.
 *
 * @returns rows deleted, and whether another instance held the lock
 */
export async function purgeFinishedOutboxMessages(
  db: TransactionalSqlDb,
  tables: OutboxTables,
  opts: PurgeOptions,
): Promise<PurgeResult> {
  let deleted = 0;
  // The signal ends a pass between two (small) batches: shutdown never waits for a whole pass.
  for (let batch = 0; batch < opts.maxBatches && opts.signal?.aborted !== true; batch++) {
    const outcome = await db.transaction(async (tx) => {
      const [lock] = (
        await tx.execute<{ locked: boolean }>(
          sql`select pg_try_advisory_xact_lock(${OUTBOX_RETENTION_LOCK_KEY}) as locked`,
        )
      ).rows;
      if (lock?.locked !== true) return undefined;
      const result = await tx.execute(sql`
        delete from ${tables.outboxMessages}
         where id in (
           select id from ${tables.outboxMessages}
            where status in ('published', 'delivered')
              and published_at < now() - ${opts.olderThanMs} * interval '1 millisecond'
            order by published_at
            limit ${opts.batchSize})`);
      return result.rowCount ?? 0;
    });
    if (outcome === undefined) return { deleted, lockedOut: true };
    deleted += outcome;
    if (outcome < opts.batchSize) break;
  }
  return { deleted, lockedOut: false };
}
