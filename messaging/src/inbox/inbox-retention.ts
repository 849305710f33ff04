import type pg from "pg";
import type { InboxTables } from "./inbox-tables.js";

export interface InboxPurgeResult {
  /** Inbox rows deleted by this pass. */
  deleted: number;
  /** Another instance was running a pass, so this one did nothing. */
  lockedOut: boolean;
}

export interface InboxPurgeOptions {
  /** Rows received longer ago than this are deleted: the duplicate window. */
  olderThanMs: number;
  /** Rows per delete statement. */
  batchSize: number;
  /** Statements per pass at most. */
  maxBatches: number;
  /** Ends the pass between two batches. */
  signal?: AbortSignal;
}

/** The advisory lock's text key (pg_try_advisory_lock(hashtext(key))): one pass per inbox table at a time. */
export function retentionLockKey(tables: InboxTables): string {
  return `@outbox/messaging inbox retention ${tables.inboxKey}`;
}

/**
 * Deletes inbox rows received more than `olderThanMs` ago, oldest first, `batchSize` rows per
 * statement (each its own short transaction), until none are left, `maxBatches` is reached or the
 * signal aborts. Only the inbox row goes: the handlers' effects stay.
 *
 * One instance at a time: the pass holds a session-level advisory lock on its connection from the
 * first batch to the last, so two instances never both prune; the lock goes with the session if the
 * instance dies. Small batches keep row locks and WAL bursts short, so consumers never wait long
 * behind the purge.
 */
export async function purgeOldInboxRows(
  pool: pg.Pool,
  tables: InboxTables,
  opts: InboxPurgeOptions,
): Promise<InboxPurgeResult> {
  const key = retentionLockKey(tables);
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    const lock = await client.query<{ locked: boolean }>(
      "SELECT pg_try_advisory_lock(hashtext($1)) AS locked",
      [key],
    );
    if (lock.rows[0]?.locked !== true) return { deleted: 0, lockedOut: true };
    try {
      let deleted = 0;
      // The signal ends a pass between two (small) batches: shutdown never waits for a whole pass.
      for (let batch = 0; batch < opts.maxBatches && opts.signal?.aborted !== true; batch++) {
        const result = await client.query(
          `DELETE FROM ${tables.inbox}
            WHERE (consumer_group, message_id) IN (
              SELECT consumer_group, message_id FROM ${tables.inbox}
               WHERE received_at < now() - $1 * interval '1 millisecond'
               ORDER BY received_at
               LIMIT $2)`,
          [opts.olderThanMs, opts.batchSize],
        );
        const count = result.rowCount ?? 0;
        deleted += count;
        if (count < opts.batchSize) break;
      }
      return { deleted, lockedOut: false };
    } finally {
      await client.query("SELECT pg_advisory_unlock(hashtext($1))", [key]);
    }
  } catch (error) {
    // A connection that failed mid-pass may still hold the lock: destroy it rather than pool it.
    broken = error instanceof Error ? error : new Error(String(error));
    throw error;
  } finally {
    client.release(broken);
  }
}
