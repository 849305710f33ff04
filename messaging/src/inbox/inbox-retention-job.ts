import type { Logger } from "../logger.js";
import { PeriodicPass } from "../retention/periodic-pass.js";
import type pg from "pg";
import { purgeOldInboxRows, type InboxPurgeResult } from "./inbox-retention.js";
import type { InboxTables } from "./inbox-tables.js";

export interface InboxRetentionOptions {
  /** Inbox rows received longer ago than this are deleted: the duplicate window. */
  retentionMs: number;
  /** Pause between passes. */
  intervalMs: number;
  /** Rows per delete statement. */
  batchSize: number;
  /** Batches per pass [100]: a huge backlog is worked off over several passes, not one long burst. */
  maxBatchesPerPass?: number;
}

export interface InboxRetentionJobOptions extends InboxRetentionOptions {
  pool: pg.Pool;
  tables: InboxTables;
  logger: Logger;
}

/**
 * Runs the inbox purge every `intervalMs` (first pass shortly after start). Every instance runs
 * the job; the advisory lock inside purgeOldInboxRows lets one do the work at a time. stop()
 * ends a pass between two batches, so shutdown waits for at most one small delete.
 */
export class InboxRetentionJob {
  private readonly job: PeriodicPass;

  constructor(private readonly opts: InboxRetentionJobOptions) {
    this.job = new PeriodicPass({
      what: "inbox retention",
      intervalMs: opts.intervalMs,
      logger: opts.logger,
      pass: () => this.runOnce(),
    });
  }

  start(): void {
    this.job.start();
  }

  stop(): Promise<void> {
    return this.job.stop();
  }

  /** One purge pass (stop() ends it between two batches); exposed for tests and tools. */
  async runOnce(): Promise<InboxPurgeResult> {
    const result = await purgeOldInboxRows(this.opts.pool, this.opts.tables, {
      olderThanMs: this.opts.retentionMs,
      batchSize: this.opts.batchSize,
      maxBatches: this.opts.maxBatchesPerPass ?? 100,
      signal: this.job.signal,
    });
    if (result.deleted > 0 || result.lockedOut) this.opts.logger.info(result, "inbox retention pass done");
    return result;
  }
}
