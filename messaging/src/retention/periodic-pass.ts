import type { Logger } from "../logger.js";
import { sleep } from "../outbox/abortable-sleep.js";

export interface PeriodicPassOptions {
  /** Named in the log lines ("outbox retention", "inbox retention"). */
  what: string;
  /** Pause between passes. */
  intervalMs: number;
  logger: Logger;
  /** One pass; it should end soon once `signal` aborts (between two small deletes). */
  pass: (signal: AbortSignal) => Promise<unknown>;
}

/**
 * Runs a pass every `intervalMs`, the first one shortly after start (instances started together
 * are spread over a few seconds). A failed pass is logged and tried again at the next interval.
 * The outbox's and the inbox's retention jobs are such passes.
 */
export class PeriodicPass {
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;

  constructor(private readonly opts: PeriodicPassOptions) {}

  /** Aborted by stop(): what a pass checks to end early. */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  start(): void {
    this.running ??= this.run();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    await sleep(Math.min(this.opts.intervalMs, 5_000 + Math.random() * 5_000), signal);
    while (!signal.aborted) {
      try {
        await this.opts.pass(signal);
      } catch (error) {
        this.opts.logger.warn({ err: error }, `${this.opts.what} pass failed; trying again later`);
      }
      await sleep(this.opts.intervalMs, signal);
    }
  }
}
