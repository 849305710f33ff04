import { hostname } from "node:os";
import {
  baseEnvSchema,
  brokerAddressFromEnv,
  brokerConnectionString,
  loadConfig,
  postgresUrlFromEnv,
  readAllConfig,
  retryDelaysSchema,
  transportEnvSchema,
  type BrokerAddress,
} from "@outbox/service-defaults";
import { z } from "zod";

const positiveInt = () => z.coerce.number().int().positive();

/** Everything the sender reads from its environment, with defaults. */
export const senderEnvSchema = baseEnvSchema
  .extend(transportEnvSchema.shape)
  .extend({
    // Injected by the AppHost (Aspire conventions); read through postgresUrlFromEnv / amqpUrlFromEnv.
    // The descriptions below are the documentation: `npm run docs:config` renders them into docs/.
    ConnectionStrings__senderdb: z
      .string()
      .optional()
      .describe(
        "The sender database's `postgresql://` URL (the runtime role). Required: this or `SENDERDB_URI`.",
      ),
    SENDERDB_URI: z.string().optional().describe("Read when `ConnectionStrings__senderdb` is unset."),
    ConnectionStrings__broker: z
      .string()
      .optional()
      .describe(
        "The broker's `amqp://user:password@host:port` URL, or with `MESSAGING_TRANSPORT=kafka` its bootstrap servers `host:port[,host:port…]`. Required: this or `BROKER_URI`.",
      ),
    BROKER_URI: z.string().optional().describe("Read when `ConnectionStrings__broker` is unset."),

    PG_POOL_MAX: positiveInt()
      .max(1_000)
      .default(10)
      .describe("Connections of the API's PostgreSQL pool; the relay has a small pool of its own."),
    OUTBOX_ADDRESS: z
      .string()
      .min(1)
      .default("entity-items")
      .describe("AMQP address the relay publishes to (the AppHost declares it)."),
    OUTBOX_BATCH_SIZE: positiveInt().max(1_000).default(100).describe("Rows claimed per batch."),
    OUTBOX_CONCURRENCY: positiveInt()
      .max(16)
      .default(2)
      .describe("Claim–send–mark loops per instance (one waits for outcomes while another sends)."),
    OUTBOX_LEASE_MS: positiveInt()
      .min(1_000)
      .default(30_000)
      .describe("How long a claim keeps rows from other relays; an expired claim's rows are claimed again."),
    OUTBOX_POLL_INTERVAL_MS: positiveInt()
      .min(10)
      .default(5_000)
      .describe(
        "Fallback poll when idle: NOTIFY wakes the relay on commit; the poll catches missed notifications and expired leases.",
      ),
    OUTBOX_SEND_TIMEOUT_MS: positiveInt()
      .default(10_000)
      .describe(
        "No outcome from the broker within this time: the send is unknown and the row goes back. At most half of `OUTBOX_LEASE_MS`.",
      ),
    OUTBOX_BACKOFF_MIN_MS: positiveInt()
      .default(500)
      .describe("Smallest delay of the capped exponential backoff with jitter (broker outages, refusals)."),
    OUTBOX_BACKOFF_MAX_MS: positiveInt()
      .default(30_000)
      .describe("Largest backoff delay; at least `OUTBOX_BACKOFF_MIN_MS`."),
    RECEIPTS_QUEUE: z
      .string()
      .trim()
      .min(1)
      .optional()
      .describe(
        "Queue of delivery receipts from the receiver, which mark rows `delivered` (Kafka: the receipts topic, read by the group `RECEIPTS_GROUP`); unset: no receipt consumer.",
      ),
    RECEIPTS_GROUP: z
      .string()
      .trim()
      .regex(/^[A-Za-z0-9_-]+$/, "letters, digits, '_' or '-'")
      .default("sender")
      .describe(
        "Kafka only: the consumer group that reads the receipts topic (group.id `<RECEIPTS_QUEUE>.<group>`, whose dead letters the receipt routes serve). Artemis reads the receipts queue itself.",
      ),
    RECEIPTS_RETRY_DELAYS_MS: retryDelaysSchema("5000,10000").describe(
      "Kafka only: the receipts group's retry tiers, the delay before each in milliseconds (`none`: straight to the dead-letter topic). The AppHost injects what its model declares.",
    ),
    IDEMPOTENCY_KEY_TTL_MS: positiveInt()
      .min(1_000)
      .default(24 * 3_600_000)
      .describe("How long an `Idempotency-Key` of POST and PUT is remembered (default 24 h)."),
    IDEMPOTENCY_PURGE_INTERVAL_MS: positiveInt()
      .min(1_000)
      .default(60_000)
      .describe("How often expired `Idempotency-Key`s are deleted."),
    OUTBOX_MAX_ATTEMPTS: positiveInt()
      .max(1_000)
      .default(10)
      .describe(
        "Counted refusals by the broker (rejected, modified delivery-failed) before a row goes `dead`.",
      ),
    OUTBOX_DEAD_BLOCKS_AGGREGATE: z
      .enum(["true", "false", "1", "0"])
      .default("true")
      .transform((v) => v === "true" || v === "1")
      .describe(
        "`true`: a `dead` row holds back its aggregate's later rows until an operator retries it, so receivers never see a version gap; `false` trades order for progress: the later rows are sent and an in-order receiver refuses each as a gap until it is dead-lettered.",
      ),
    OUTBOX_SYNCHRONOUS_COMMIT: z
      .enum(["true", "false", "1", "0"])
      .default("false")
      .transform((v) => v === "true" || v === "1")
      .describe("`true`: the relay's own writes wait for the WAL flush (off is safe, see relay.md)."),
    OUTBOX_LISTEN: z
      .enum(["true", "false", "1", "0"])
      .default("true")
      .transform((v) => v === "true" || v === "1")
      .describe("LISTEN for commits (`pg_notify`); `false`: the relay relies on the poll alone."),
    OUTBOX_RETENTION_MS: z.coerce
      .number()
      .int()
      .min(0)
      .default(7 * 24 * 3_600_000)
      .describe("Published and delivered rows older than this are deleted (default 7 days); `0` keeps them."),
    OUTBOX_RETENTION_INTERVAL_MS: positiveInt()
      .min(1_000)
      .default(60_000)
      .describe("Pause between retention passes."),
    OUTBOX_RETENTION_BATCH_SIZE: positiveInt()
      .max(100_000)
      .default(1_000)
      .describe("Rows deleted per retention transaction."),
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
  /** `statement_timeout` of the API's pool (ms; 0: none). */
  statementTimeoutMs: number;
  /** Apply the migrations at start-up instead of only checking them (MIGRATE_AT_START). */
  migrateAtStart: boolean;
  /** ConnectionStrings__broker (bootstrap servers joined by commas on Kafka). */
  brokerUrl: string;
  /** The same, read for the transport MESSAGING_TRANSPORT names. */
  broker: BrokerAddress;
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
  /** Kafka: the receipts topic's consumer group and its retry tiers. */
  receipts: { group: string; retryDelaysMs: number[] };
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
  const { parsed, databaseUrl, broker } = readAllConfig({
    parsed: () => loadConfig(senderEnvSchema, env),
    databaseUrl: () => postgresUrlFromEnv(env, "senderdb"),
    broker: () => brokerAddressFromEnv(env, "broker"),
  });
  return {
    serviceName: parsed.OTEL_SERVICE_NAME ?? "sender",
    port: parsed.PORT,
    host: parsed.HOST,
    logLevel: parsed.LOG_LEVEL,
    shutdownTimeoutMs: parsed.SHUTDOWN_TIMEOUT_MS,
    databaseUrl,
    pgPoolMax: parsed.PG_POOL_MAX,
    statementTimeoutMs: parsed.PG_STATEMENT_TIMEOUT_MS,
    migrateAtStart: parsed.MIGRATE_AT_START,
    brokerUrl: brokerConnectionString(broker),
    broker,
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
    receipts: { group: parsed.RECEIPTS_GROUP, retryDelaysMs: parsed.RECEIPTS_RETRY_DELAYS_MS },
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
