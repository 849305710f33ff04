import type pg from "pg";

/** Advisory lock key of the inbox retention job (any constant shared by all receiver instances). */
export const INBOX_RETENTION_LOCK_KEY = 4_242_101;

export interface InboxPurgeResult {
  /** Inbox rows deleted by this pass. */
  deleted: number;
  /** Another instance was running a pass, so this one did nothing. */
  lockedOut: boolean;
}

/**
 * Deletes inbox rows received more than `olderThanMs` ago, oldest first, `batchSize` rows per
 * statement (each its own short transaction), until none are left, `maxBatches` is reached or the
 * signal aborts. Only the inbox row goes: the effect (received_items, received_item_versions,
 * audit_log) stays.
 *
 * One instance at a time: the pass holds a session-level advisory lock (pg_try_advisory_lock) on
 * its connection from the first batch to the last, so two instances never both prune; the lock
 * goes with the session if the instance dies. Small batches keep row locks and WAL bursts short,
 * so consumers never wait long behind the purge.
 */
export async function purgeOldInboxRows(
  pool: pg.Pool,
  opts: { olderThanMs: number; batchSize: number; maxBatches: number; signal?: AbortSignal },
): Promise<InboxPurgeResult> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    const lock = await client.query<{ locked: boolean }>("select pg_try_advisory_lock($1) as locked", [
      INBOX_RETENTION_LOCK_KEY,
    ]);
    if (lock.rows[0]?.locked !== true) return { deleted: 0, lockedOut: true };
    try {
      let deleted = 0;
      // The signal ends a pass between two (small) batches: shutdown never waits for a whole pass.
      for (let batch = 0; batch < opts.maxBatches && opts.signal?.aborted !== true; batch++) {
        const result = await client.query(
          `delete from inbox
            where message_id in (
              select message_id from inbox
               where received_at < now() - $1 * interval '1 millisecond'
               order by received_at
               limit $2)`,
          [opts.olderThanMs, opts.batchSize],
        );
        const count = result.rowCount ?? 0;
        deleted += count;
        if (count < opts.batchSize) break;
      }
      return { deleted, lockedOut: false };
    } finally {
      await client.query("select pg_advisory_unlock($1)", [INBOX_RETENTION_LOCK_KEY]);
    }
  } catch (error) {
    // A connection that failed mid-pass may still hold the lock: destroy it rather than pool it.
    broken = error instanceof Error ? error : new Error(String(error));
    throw error;
  } finally {
    client.release(broken);
  }
}
