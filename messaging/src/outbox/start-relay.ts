import type { HealthCheck } from "../health.js";
import type { Logger } from "../logger.js";
import type { Attributes } from "@opentelemetry/api";
import { drizzle } from "drizzle-orm/node-postgres";
import type pg from "pg";
import type { Transport, TransportPublisher } from "../transport/transport.js";
import type { BackoffPolicy } from "./backoff.js";
import { outboxGaugeFigures } from "./gauge-figures.js";
import { OutboxListener } from "./listener.js";
import { OutboxMetrics } from "./metrics.js";
import { OutboxRelay, type RelayStats } from "./relay.js";
import { connectionSettings, createRelayPool } from "./relay-pool.js";
import { OutboxRetentionJob } from "./retention-job.js";
import type { OutboxTables } from "./tables.js";

export interface RelayRetentionOptions {
  /** Published/delivered rows older than this are deleted (default 7 days). */
  retentionMs?: number;
  /** Pause between passes (default 60 s). */
  intervalMs?: number;
  /** Rows per delete transaction (default 1000). */
  batchSize?: number;
}

export interface StartRelayOptions {
  /**
   * The application's pool: the relay takes its connection settings and opens connections of its
   * own (a small pool, `synchronous_commit` as chosen below, and one LISTEN connection).
   */
  pool: pg.Pool;
  /** The relay makes its publisher from the transport (and closes it on stop)... */
  transport?: Transport;
  /** ...or publishes through this one (started by startRelay, closed on stop). */
  publisher?: TransportPublisher;
  /** Only rows for this destination are claimed; the publisher sends there. */
  destination: string;
  /** Unique per process: written to locked_by, names the publisher. */
  owner: string;
  /** Rows claimed per batch (default 100). */
  batchSize?: number;
  /** Claim–send–mark loops at once (default 2). */
  concurrency?: number;
  /** How long a claim keeps rows from other relays (default 30 s). */
  leaseMs?: number;
  /** Fallback poll when idle: catches missed notifications and expired leases (default 5 s). */
  pollIntervalMs?: number;
  /** No outcome within this time: unknown, the row goes back (default 10 s; at most leaseMs / 2). */
  sendTimeoutMs?: number;
  /** Broker outages and refusals (default 500 ms .. 30 s, doubling, with jitter). */
  backoff?: BackoffPolicy;
  /** Counted refusals before a row goes dead (default 10). */
  maxAttempts?: number;
  /** A dead row holds back its key's later rows until retried (default true). */
  deadBlocksAggregate?: boolean;
  /** LISTEN for commits (default true); false: the poll alone. */
  listen?: boolean;
  /** Deletes finished rows (default on, 7 days); false keeps them. */
  retention?: RelayRetentionOptions | false;
  /** The relay's own writes wait for the WAL flush (default false: safe, see relay-pool.ts). */
  synchronousCommit?: boolean;
  logger: Logger;
  /** OpenTelemetry metrics (default on, no-ops without an SDK); `attributes` are added to each. */
  metrics?: { attributes?: Attributes } | false;
}

export interface OutboxRelayHandle {
  /** Stops claiming, settles what is in flight, closes the publisher and the relay's connections. */
  stop(budgetMs?: number): Promise<void>;
  /** There is probably new work: end the idle sleep now. */
  wake(): void;
  /** Degraded while the broker or database is unreachable; unhealthy once stopped or crashed. */
  healthCheck(): HealthCheck;
  state(): RelayState;
}

export interface RelayState extends RelayStats {
  owner: string;
  destination: string;
  /** LISTEN connection up (undefined: listen is off). */
  listening: boolean | undefined;
}

export const RELAY_DEFAULTS = {
  batchSize: 100,
  concurrency: 2,
  leaseMs: 30_000,
  pollIntervalMs: 5_000,
  sendTimeoutMs: 10_000,
  backoff: { minMs: 500, maxMs: 30_000 },
  maxAttempts: 10,
  retention: { retentionMs: 7 * 24 * 3_600_000, intervalMs: 60_000, batchSize: 1_000 },
} as const;

/** Starts the relay of one outbox (see createOutbox().startRelay). */
export function startOutboxRelay(
  tables: OutboxTables,
  notifyChannel: string,
  opts: StartRelayOptions,
): OutboxRelayHandle {
  const settings = validSettings(opts);
  const retentionSettings = opts.retention === false ? undefined : validRetention(opts.retention ?? {});
  const { logger, owner, destination } = opts;
  const publisher =
    opts.publisher ??
    opts.transport?.publisher({
      destination,
      name: `outbox-${owner}`,
      sendTimeoutMs: settings.sendTimeoutMs,
    });
  if (publisher === undefined) throw new TypeError("startRelay: pass a transport or a publisher");
  const pool = createRelayPool(opts.pool, {
    max: settings.concurrency + 2,
    applicationName: `${owner}-relay`,
    synchronousCommit: opts.synchronousCommit ?? false,
    onError: (error) => logger.warn({ err: error }, "idle outbox relay PostgreSQL connection failed"),
  });
  const db = drizzle({ client: pool });
  const metrics =
    opts.metrics === false
      ? undefined
      : new OutboxMetrics(
          { "messaging.destination.name": destination, ...(opts.metrics?.attributes ?? {}) },
          () => outboxGaugeFigures(db, tables),
        );
  const relay = new OutboxRelay({
    db,
    tables,
    publisher,
    messagingSystem:
      opts.transport === undefined || opts.transport.name === "artemis" ? "activemq" : opts.transport.name,
    owner,
    destination,
    batchSize: settings.batchSize,
    concurrency: settings.concurrency,
    leaseMs: settings.leaseMs,
    pollIntervalMs: settings.pollIntervalMs,
    sendTimeoutMs: settings.sendTimeoutMs,
    backoff: settings.backoff,
    maxAttempts: settings.maxAttempts,
    deadBlocksAggregate: opts.deadBlocksAggregate ?? true,
    // Read only once running (health), after `listener` below is set.
    wakeSource: () => listener?.state(),
    ...(metrics === undefined ? {} : { metrics }),
    logger: logger.child({ component: "outbox-relay" }),
  });
  // Wakes the relay when a writing transaction commits (the pg_notify of enqueue).
  const listener: OutboxListener | undefined =
    opts.listen === false
      ? undefined
      : new OutboxListener({
          connection: connectionSettings(opts.pool),
          applicationName: `${owner}-listen`,
          channel: notifyChannel,
          destination,
          onWake: () => relay.wake(),
          backoff: settings.backoff,
          logger: logger.child({ component: "outbox-listener" }),
        });
  const retention =
    retentionSettings === undefined
      ? undefined
      : new OutboxRetentionJob({
          db,
          tables,
          ...RELAY_DEFAULTS.retention,
          ...retentionSettings,
          logger: logger.child({ component: "outbox-retention" }),
        });

  publisher.start();
  relay.start();
  listener?.start();
  retention?.start();

  let stopping: Promise<void> | undefined;
  return {
    stop: (budgetMs?: number) =>
      (stopping ??= (async () => {
        // The relay first (its budget must not wait behind the others), then the helpers.
        await relay.stop(budgetMs);
        await listener?.stop();
        await retention?.stop();
        await pool.end().catch(() => undefined);
      })()),
    wake: () => relay.wake(),
    healthCheck: () => relay.healthCheck(),
    state: () => ({ ...relay.stats(), owner, destination, listening: listener?.isListening() }),
  };
}

function validSettings(opts: StartRelayOptions) {
  if (typeof opts !== "object" || opts === null) throw new TypeError("startRelay: options are required");
  if (opts.pool === undefined || typeof opts.pool.connect !== "function")
    throw new TypeError("startRelay: pool must be a pg.Pool");
  if (typeof opts.destination !== "string" || opts.destination === "")
    throw new TypeError("startRelay: destination must be a non-empty string");
  if (typeof opts.owner !== "string" || opts.owner === "")
    throw new TypeError("startRelay: owner must be a non-empty string");
  if (opts.transport !== undefined && opts.publisher !== undefined)
    throw new TypeError("startRelay: pass a transport or a publisher, not both");
  if (opts.logger === undefined) throw new TypeError("startRelay: logger is required");
  const settings = {
    batchSize: positive("batchSize", opts.batchSize ?? RELAY_DEFAULTS.batchSize),
    concurrency: positive("concurrency", opts.concurrency ?? RELAY_DEFAULTS.concurrency),
    leaseMs: positive("leaseMs", opts.leaseMs ?? RELAY_DEFAULTS.leaseMs),
    pollIntervalMs: positive("pollIntervalMs", opts.pollIntervalMs ?? RELAY_DEFAULTS.pollIntervalMs),
    sendTimeoutMs: positive("sendTimeoutMs", opts.sendTimeoutMs ?? RELAY_DEFAULTS.sendTimeoutMs),
    maxAttempts: positive("maxAttempts", opts.maxAttempts ?? RELAY_DEFAULTS.maxAttempts),
    backoff: opts.backoff ?? RELAY_DEFAULTS.backoff,
  };
  // Every outcome must be known before the lease runs out, or another relay could claim rows this
  // one still waits on (harmless thanks to the deduplication id, but wasteful).
  if (settings.sendTimeoutMs * 2 > settings.leaseMs)
    throw new RangeError(
      `startRelay: sendTimeoutMs (${settings.sendTimeoutMs}) must be at most half of leaseMs (${settings.leaseMs})`,
    );
  if (!(settings.backoff.minMs > 0 && settings.backoff.maxMs >= settings.backoff.minMs))
    throw new RangeError("startRelay: backoff needs 0 < minMs <= maxMs");
  return settings;
}

function validRetention(retention: RelayRetentionOptions): RelayRetentionOptions {
  for (const [name, value] of Object.entries(retention)) {
    if (value !== undefined) positive(`retention.${name}`, value as number);
  }
  return Object.fromEntries(Object.entries(retention).filter(([, v]) => v !== undefined));
}

function positive(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0)
    throw new RangeError(`startRelay: ${name} must be a positive integer, got ${String(value)}`);
  return value;
}
