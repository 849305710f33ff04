import { setTimeout as delay } from "node:timers/promises";
import type { Logger } from "../logger.js";
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
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;

  constructor(private readonly opts: InboxRetentionJobOptions) {}

  start(): void {
    this.running ??= this.run();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }

  /** One purge pass (stop() ends it between two batches); exposed for tests and tools. */
  async runOnce(): Promise<InboxPurgeResult> {
    const result = await purgeOldInboxRows(this.opts.pool, this.opts.tables, {
      olderThanMs: this.opts.retentionMs,
      batchSize: this.opts.batchSize,
      maxBatches: this.opts.maxBatchesPerPass ?? 100,
      signal: this.abort.signal,
    });
    if (result.deleted > 0 || result.lockedOut) this.opts.logger.info(result, "inbox retention pass done");
    return result;
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    // Spread instances started together.
    await pause(Math.min(this.opts.intervalMs, 5_000 + Math.random() * 5_000), signal);
    while (!signal.aborted) {
      try {
        await this.runOnce();
      } catch (error) {
        this.opts.logger.warn({ err: error }, "inbox retention pass failed; trying again later");
      }
      await pause(this.opts.intervalMs, signal);
    }
  }
}

/** Waits `ms`, or less when the signal aborts; never rejects. */
async function pause(ms: number, signal: AbortSignal): Promise<void> {
  await delay(ms, undefined, { signal }).catch(() => undefined);
}
