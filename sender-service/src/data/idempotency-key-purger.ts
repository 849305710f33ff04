import type { Logger } from "@outbox/service-defaults";
import type { Database } from "./db.js";
import { purgeExpiredKeys } from "./idempotency-keys.js";

export interface IdempotencyKeyPurgerOptions {
  db: Database;
  intervalMs: number;
  logger: Logger;
  /** Rows per DELETE; batches repeat until fewer come back. */
  batchSize?: number;
}

/**
 * Deletes expired Idempotency-Keys periodically. Any number of sender instances may run it:
 * deleting an already deleted row is a no-op. Expired keys are ignored on read anyway, so a late
 * purge only costs disk space.
 */
export class IdempotencyKeyPurger {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly opts: IdempotencyKeyPurgerOptions) {}

  start(): void {
    if (this.stopped || this.timer !== undefined) return;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.purge().finally(() => {
        this.running = undefined;
        this.schedule();
      });
    }, this.opts.intervalMs);
    this.timer.unref();
  }

  private async purge(): Promise<void> {
    const batch = this.opts.batchSize ?? 1000;
    let total = 0;
    try {
      for (;;) {
        const deleted = await purgeExpiredKeys(this.opts.db, batch);
        total += deleted;
        if (deleted < batch || this.stopped) break;
      }
      if (total > 0) this.opts.logger.info({ deleted: total }, "expired idempotency keys purged");
    } catch (error) {
      this.opts.logger.warn({ err: error }, "idempotency key purge failed; trying again later");
    }
  }
}
