import type { Logger } from "../logger.js";
import { sleep } from "./abortable-sleep.js";
import { purgeFinishedOutboxMessages } from "./retention.js";
import type { TransactionalSqlDb } from "./sql-db.js";
import type { OutboxTables } from "./tables.js";

export interface OutboxRetentionJobOptions {
  db: TransactionalSqlDb;
  tables: OutboxTables;
  /** Published/delivered rows older than this are deleted. */
  retentionMs: number;
  /** Pause between runs. */
  intervalMs: number;
  /** Rows per delete transaction. */
  batchSize: number;
  logger: Logger;
}

/**
 * Runs the outbox purge every `intervalMs` (first run shortly after start). Each instance runs
 * the job; the advisory lock inside purgeFinishedOutboxMessages lets one do the work at a time.
 */
export class OutboxRetentionJob {
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;

  constructor(private readonly opts: OutboxRetentionJobOptions) {}

  start(): void {
    this.running ??= this.run();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }

  /** One purge pass; exposed for tests and tools. */
  async runOnce(): Promise<number> {
    const { deleted, lockedOut } = await purgeFinishedOutboxMessages(this.opts.db, this.opts.tables, {
      olderThanMs: this.opts.retentionMs,
      batchSize: this.opts.batchSize,
      // Bounded per pass so a huge backlog is worked off over several passes, not one long burst.
      maxBatches: 100,
      signal: this.abort.signal,
    });
    if (deleted > 0 || lockedOut) this.opts.logger.info({ deleted, lockedOut }, "outbox retention pass done");
    return deleted;
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    // Spread instances started together.
    await sleep(Math.min(this.opts.intervalMs, 5_000 + Math.random() * 5_000), signal);
    while (!signal.aborted) {
      try {
        await this.runOnce();
      } catch (error) {
        this.opts.logger.warn({ err: error }, "outbox retention pass failed; trying again later");
      }
      await sleep(this.opts.intervalMs, signal);
    }
  }
}
