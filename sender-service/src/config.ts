import { hostname } from "node:os";
import {
  amqpUrlFromEnv,
  baseEnvSchema,
  loadConfig,
  postgresUrlFromEnv,
  readAllConfig,
} from "@outbox/service-defaults";
import { z } from "zod";

const positiveInt = () => z.coerce.number().int().positive();

/** Everything the sender reads from its environment, with defaults. */
export const senderEnvSchema = baseEnvSchema
  .extend({
    // Injected by the AppHost (Aspire conventions); read through postgresUrlFromEnv / amqpUrlFromEnv.
    ConnectionStrings__senderdb: z.string().optional(),
    SENDERDB_URI: z.string().optional(),
    ConnectionStrings__broker: z.string().optional(),
    BROKER_URI: z.string().optional(),

    PG_POOL_MAX: positiveInt().max(1_000).default(10),
    /** AMQP address the relay publishes to (an anycast address with a queue of the same name). */
    OUTBOX_ADDRESS: z.string().min(1).default("entity-items"),
    OUTBOX_BATCH_SIZE: positiveInt().max(1_000).default(100),
    /** Claim–send–mark loops per instance (one waits for outcomes while another sends). */
    OUTBOX_CONCURRENCY: positiveInt().max(16).default(2),
    /** How long a claim protects rows from other relay instances. */
    OUTBOX_LEASE_MS: positiveInt().min(1_000).default(30_000),
    /** Fallback poll when idle: NOTIFY wakes the relay on commit; this catches missed ones and expired leases. */
    OUTBOX_POLL_INTERVAL_MS: positiveInt().min(10).default(5_000),
    /** No outcome from the broker within this time: the send is unknown and the row goes back. */
    OUTBOX_SEND_TIMEOUT_MS: positiveInt().default(10_000),
    /** Capped exponential backoff with jitter: broker outages and message-level retries. */
    OUTBOX_BACKOFF_MIN_MS: positiveInt().default(500),
    OUTBOX_BACKOFF_MAX_MS: positiveInt().default(30_000),
    /** Queue of delivery receipts from the receiver (marks outbox rows delivered); unset: none. */
    RECEIPTS_QUEUE: z.string().trim().min(1).optional(),
    /** How long an Idempotency-Key of POST /api/EntityItems is remembered (default 24 h). */
    IDEMPOTENCY_KEY_TTL_MS: positiveInt()
      .min(1_000)
      .default(24 * 3_600_000),
    /** How often expired Idempotency-Keys are deleted. */
    IDEMPOTENCY_PURGE_INTERVAL_MS: positiveInt().min(1_000).default(60_000),
    /** Refusals by the broker (rejected, modified delivery-failed) before a message goes dead. */
    OUTBOX_MAX_ATTEMPTS: positiveInt().max(1_000).default(10),
    /**
     * true (default): a dead message holds back its aggregate's later messages until an operator
     * retries it, so receivers never see a version gap. false trades order for progress: the later
     * messages are published, and a receiver that applies versions in order (this repository's
     * receiver and audit groups do) refuses each one as a gap until it is dead-lettered.
     */
    OUTBOX_DEAD_BLOCKS_AGGREGATE: z
      .enum(["true", "false", "1", "0"])
      .default("true")
      .transform((v) => v === "true" || v === "1"),
    /** The relay's own writes wait for the WAL flush (default off: safe, see data/relay-pool.ts). */
    OUTBOX_SYNCHRONOUS_COMMIT: z
      .enum(["true", "false", "1", "0"])
      .default("false")
      .transform((v) => v === "true" || v === "1"),
    /** LISTEN for commits (pg_notify) instead of relying on the poll alone. */
    OUTBOX_LISTEN: z
      .enum(["true", "false", "1", "0"])
      .default("true")
      .transform((v) => v === "true" || v === "1"),
    /** Published/delivered rows older than this are deleted (default 7 days); 0 keeps them forever. */
    OUTBOX_RETENTION_MS: z.coerce
      .number()
      .int()
      .min(0)
      .default(7 * 24 * 3_600_000),
    OUTBOX_RETENTION_INTERVAL_MS: positiveInt().min(1_000).default(60_000),
    OUTBOX_RETENTION_BATCH_SIZE: positiveInt().max(100_000).default(1_000),
  })
  .superRefine((env, ctx) => {
    // Every outcome must be known before the lease runs out, or another instance could claim
    // rows this one is still waiting on (harmless thanks to _AMQ_DUPL_ID, but wasteful).
    if (env.OUTBOX_SEND_TIMEOUT_MS * 2 > env.OUTBOX_LEASE_MS) {
      ctx.addIssue({
        code: "custom",
        path: ["OUTBOX_SEND_TIMEOUT_MS"],
        message: `must be at most half of OUTBOX_LEASE_MS (${env.OUTBOX_LEASE_MS})`,
      });
    }
    if (env.OUTBOX_BACKOFF_MIN_MS > env.OUTBOX_BACKOFF_MAX_MS) {
      ctx.addIssue({
        code: "custom",
        path: ["OUTBOX_BACKOFF_MAX_MS"],
        message: "must be >= OUTBOX_BACKOFF_MIN_MS",
      });
    }
  });

export interface SenderConfig {
  serviceName: string;
  port: number;
  host: string;
  logLevel: string;
  shutdownTimeoutMs: number;
  databaseUrl: string;
  pgPoolMax: number;
  brokerUrl: string;
  outbox: {
    address: string;
    batchSize: number;
    concurrency: number;
    leaseMs: number;
    pollIntervalMs: number;
    sendTimeoutMs: number;
    backoff: { minMs: number; maxMs: number };
    maxAttempts: number;
    deadBlocksAggregate: boolean;
    listen: boolean;
    synchronousCommit: boolean;
    retention: { retentionMs: number; intervalMs: number; batchSize: number };
  };
  idempotency: { keyTtlMs: number; purgeIntervalMs: number };
  receiptsQueue: string | undefined;
  /** Identifies this process in outbox locks and as the AMQP container id. */
  instanceId: string;
}

/**
 * Reads and validates the configuration. Throws one ConfigError naming every bad or missing
 * variable (not just the first one), without echoing values.
 */
export function loadSenderConfig(
  env: NodeJS.ProcessEnv = process.env,
  instanceId = defaultInstanceId(),
): SenderConfig {
  const { parsed, databaseUrl, brokerUrl } = readAllConfig({
    parsed: () => loadConfig(senderEnvSchema, env),
    databaseUrl: () => postgresUrlFromEnv(env, "senderdb"),
    brokerUrl: () => amqpUrlFromEnv(env, "broker"),
  });
  return {
    serviceName: parsed.OTEL_SERVICE_NAME ?? "sender",
    port: parsed.PORT,
    host: parsed.HOST,
    logLevel: parsed.LOG_LEVEL,
    shutdownTimeoutMs: parsed.SHUTDOWN_TIMEOUT_MS,
    databaseUrl,
    pgPoolMax: parsed.PG_POOL_MAX,
    brokerUrl,
    outbox: {
      address: parsed.OUTBOX_ADDRESS,
      batchSize: parsed.OUTBOX_BATCH_SIZE,
      concurrency: parsed.OUTBOX_CONCURRENCY,
      leaseMs: parsed.OUTBOX_LEASE_MS,
      pollIntervalMs: parsed.OUTBOX_POLL_INTERVAL_MS,
      sendTimeoutMs: parsed.OUTBOX_SEND_TIMEOUT_MS,
      backoff: { minMs: parsed.OUTBOX_BACKOFF_MIN_MS, maxMs: parsed.OUTBOX_BACKOFF_MAX_MS },
      maxAttempts: parsed.OUTBOX_MAX_ATTEMPTS,
      deadBlocksAggregate: parsed.OUTBOX_DEAD_BLOCKS_AGGREGATE,
      listen: parsed.OUTBOX_LISTEN,
      synchronousCommit: parsed.OUTBOX_SYNCHRONOUS_COMMIT,
      retention: {
        retentionMs: parsed.OUTBOX_RETENTION_MS,
        intervalMs: parsed.OUTBOX_RETENTION_INTERVAL_MS,
        batchSize: parsed.OUTBOX_RETENTION_BATCH_SIZE,
      },
    },
    receiptsQueue: parsed.RECEIPTS_QUEUE,
    idempotency: {
      keyTtlMs: parsed.IDEMPOTENCY_KEY_TTL_MS,
      purgeIntervalMs: parsed.IDEMPOTENCY_PURGE_INTERVAL_MS,
    },
    instanceId,
  };
}

/** Unique per process, readable in SQL (`locked_by`) and in the broker's connection list. */
export function defaultInstanceId(): string {
  return `sender-${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}
