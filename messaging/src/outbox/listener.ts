import type { Logger } from "../logger.js";
import pg from "pg";
import { sleep } from "./abortable-sleep.js";
import { backoffDelayMs, type BackoffPolicy } from "./backoff.js";

export interface OutboxListenerOptions {
  /** How to connect (the relay's connection settings). */
  connection: pg.ClientConfig;
  /** The NOTIFY channel enqueue announces commits on; the payload is the row's destination. */
  channel: string;
  /** Only notifications for this destination wake the relay. */
  destination: string;
  /** Called on every matching notification and after each (re)connect (notifications may have been missed). */
  onWake: () => void;
  backoff: BackoffPolicy;
  logger: Logger;
  applicationName?: string;
  random?: () => number;
}

/**
 * LISTENs on the outbox channel on its own connection (a pooled connection would be handed to
 * other queries and lose the LISTEN) and wakes the relay when a writing transaction commits.
 * The connection reconnects by itself with capped exponential backoff; a notification sent while
 * it was down is lost, which is why the relay also polls (slowly) and is woken after a reconnect.
 */
export class OutboxListener {
  private readonly abort = new AbortController();
  private client: pg.Client | undefined;
  private running: Promise<void> | undefined;
  private listening = false;
  private lastError: string | undefined;

  constructor(private readonly opts: OutboxListenerOptions) {}

  start(): void {
    this.running ??= this.run();
  }

  isListening(): boolean {
    return this.listening;
  }

  state(): { listening: boolean; lastError: string | undefined } {
    return { listening: this.listening, lastError: this.lastError };
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.client?.end().catch(() => undefined);
    await this.running;
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    let failures = 0;
    while (!signal.aborted) {
      const connection = await this.connectAndListen().then(
        (connected) => {
          failures = 0;
          return connected;
        },
        (error: unknown) => {
          this.lastError = error instanceof Error ? error.message : String(error);
          return undefined;
        },
      );
      // Connected: wait until the connection ends.
      if (connection !== undefined) await connection.ended;
      this.listening = false;
      if (signal.aborted) return;
      failures += 1;
      const delayMs = backoffDelayMs(failures, this.opts.backoff, this.opts.random);
      this.opts.logger.warn(
        { error: this.lastError, failures, delayMs },
        "outbox LISTEN connection lost; reconnecting (the relay falls back to polling meanwhile)",
      );
      await sleep(delayMs, signal);
    }
  }

  /** Connects and LISTENs; `ended` settles when the connection ends. */
  private async connectAndListen(): Promise<{ ended: Promise<void> }> {
    const client = new pg.Client({
      ...this.opts.connection,
      application_name: this.opts.applicationName ?? "outbox-listener",
      connectionTimeoutMillis: 5_000,
      // Detects a silently dead server (no RST) on an otherwise idle connection.
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    this.client = client;
    const ended = new Promise<void>((resolve) => {
      client.on("error", (error) => {
        this.lastError = error.message;
        resolve();
      });
      client.on("end", () => resolve());
    });
    client.on("notification", (message) => {
      if (message.channel === this.opts.channel && (message.payload ?? "") === this.opts.destination)
        this.opts.onWake();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${quoteChannel(this.opts.channel)}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.abort.signal.aborted) await client.end().catch(() => undefined);
    this.listening = true;
    this.lastError = undefined;
    this.opts.logger.info({ channel: this.opts.channel }, "outbox relay listening for commits");
    // Rows committed while we were not listening get no notification of their own.
    this.opts.onWake();
    return { ended };
  }
}

/** A channel name as a quoted identifier (LISTEN takes no parameter). */
function quoteChannel(channel: string): string {
  return `"${channel.replaceAll('"', '""')}"`;
}
