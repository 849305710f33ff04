import type { Logger } from "../logger.js";
import { PeriodicPass } from "../retention/periodic-pass.js";
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
  private readonly job: PeriodicPass;

  constructor(private readonly opts: OutboxRetentionJobOptions) {
    this.job = new PeriodicPass({
      what: "outbox retention",
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

  /** One purge pass; exposed for tests and tools. */
  async runOnce(): Promise<number> {
    const { deleted, lockedOut } = await purgeFinishedOutboxMessages(this.opts.db, this.opts.tables, {
      olderThanMs: this.opts.retentionMs,
      batchSize: this.opts.batchSize,
      // Bounded per pass so a huge backlog is worked off over several passes, not one long burst.
      maxBatches: 100,
      signal: this.job.signal,
    });
    if (deleted > 0 || lockedOut) this.opts.logger.info({ deleted, lockedOut }, "outbox retention pass done");
    return deleted;
  }
}
