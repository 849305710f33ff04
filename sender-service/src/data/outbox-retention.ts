import { sql } from "drizzle-orm";
import type { Database } from "./db.js";

/** Advisory lock key of the retention job (any constant shared by all sender instances). */
export const OUTBOX_RETENTION_LOCK_KEY = 4_242_001;

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
  db: Database,
  opts: { olderThanMs: number; batchSize: number; maxBatches: number; signal?: AbortSignal },
): Promise<{ deleted: number; lockedOut: boolean }> {
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
        delete from outbox_messages
         where id in (
           select id from outbox_messages
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
