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

/**
 * Plain settings of the receiver, on top of what every service reads. The descriptions are the
 * documentation: `npm run docs:config` renders them into docs/.
 */
export const receiverEnvSchema = baseEnvSchema.extend(transportEnvSchema.shape).extend({
  // Injected by the AppHost (Aspire conventions); read through postgresUrlFromEnv / amqpUrlFromEnv.
  ConnectionStrings__receiverdb: z
    .string()
    .optional()
    .describe(
      "The receiver database's `postgresql://` URL (the runtime role). Required: this or `RECEIVERDB_URI`.",
    ),
  RECEIVERDB_URI: z.string().optional().describe("Read when `ConnectionStrings__receiverdb` is unset."),
  ConnectionStrings__broker: z
    .string()
    .optional()
    .describe(
      "The broker's `amqp://user:password@host:port` URL, or with `MESSAGING_TRANSPORT=kafka` its bootstrap servers `host:port[,host:port…]`. Required: this or `BROKER_URI`.",
    ),
  BROKER_URI: z.string().optional().describe("Read when `ConnectionStrings__broker` is unset."),
  RECEIVER_QUEUE: z
    .string()
    .trim()
    .min(1)
    .default("entity-items.receiver")
    .describe(
      "The queue this consumer group consumes (declared by the AppHost: `<topic>.<group>`). Kafka: the same `<topic>.<group>`, read as the topic `<topic>` by the group.id `<topic>.<group>`.",
    ),
  RECEIVER_GROUP: z
    .string()
    .trim()
    .min(1)
    .default("receiver")
    .describe("The consumer group's name, in receipts, failures, logs and telemetry."),
  AUDIT_QUEUE: z
    .string()
    .trim()
    .min(1)
    .optional()
    .describe(
      "The audit consumer group's queue; when set, this process also runs the audit projection. Kafka: `<topic>.audit`, as `RECEIVER_QUEUE`.",
    ),
  RECEIPTS_ADDRESS: z
    .string()
    .trim()
    .min(1)
    .optional()
    .describe(
      "Where delivery receipts go (an anycast queue the sender consumes; Kafka: the receipts topic); unset: no receipts.",
    ),
  RECEIPT_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(100)
    .default(10_000)
    .describe(
      "A receipt without the broker's outcome after this long counts as not sent (its messages are retried).",
    ),
  RECEIVER_MAX_IN_FLIGHT: z.coerce
    .number()
    .int()
    .min(1)
    .max(1000)
    .default(16)
    .describe("Deliveries processed at once per consumer; also the most the broker has outstanding to it."),
  RECEIVER_DLQ: z
    .string()
    .trim()
    .min(1)
    .optional()
    .describe(
      "The dead-letter queue the admin API operates on; unset: `DLQ.<address of RECEIVER_QUEUE>` (the broker's per-address DLQ). Artemis only: on Kafka a group's dead letters are its topic `<topic>.<group>.dlt`.",
    ),
  RECEIVER_RETRY_DELAYS_MS: retryDelaysSchema("5000,10000").describe(
    "Kafka only: the receiver group's retry tiers, the delay before each in milliseconds (`1000,2000`; `none`: no retries, straight to the dead-letter topic). The AppHost injects what its model declares. Artemis: the broker's redelivery settings.",
  ),
  AUDIT_RETRY_DELAYS_MS: retryDelaysSchema("5000,10000").describe(
    "Kafka only: the audit group's retry tiers, as `RECEIVER_RETRY_DELAYS_MS`.",
  ),
  RECEIVER_BATCH_SIZE: z.coerce
    .number()
    .int()
    .min(1)
    .max(1000)
    .default(50)
    .describe(
      "Deliveries applied in one transaction, at most (and at most `RECEIVER_MAX_IN_FLIGHT`); `1` applies each message in its own transaction.",
    ),
  RECEIVER_BATCH_LINGER_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(1000)
    .default(5)
    .describe("How long a batch waits for more deliveries while another batch is running."),
  PG_POOL_MAX: z.coerce
    .number()
    .int()
    .min(1)
    .max(200)
    .default(10)
    .describe("Connections of the receiver's PostgreSQL pool."),
  INBOX_RETENTION_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(7 * 24 * 3_600_000)
    .describe(
      "Inbox rows received longer ago than this are deleted (default 7 days); `0` keeps them. This is the duplicate window: an older redelivery is no longer known by message id.",
    ),
  INBOX_RETENTION_INTERVAL_MS: z.coerce
    .number()
    .int()
    .min(1_000)
    .default(60_000)
    .describe("Pause between inbox retention passes."),
  INBOX_RETENTION_BATCH_SIZE: z.coerce
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(1_000)
    .describe("Inbox rows deleted per statement."),
});

export type ReceiverConfig = z.infer<typeof receiverEnvSchema> & {
  /** ConnectionStrings__receiverdb, falling back to RECEIVERDB_URI. */
  databaseUrl: string;
  /** ConnectionStrings__broker, falling back to BROKER_URI (bootstrap servers joined by commas on Kafka). */
  brokerUrl: string;
  /** The same, read for the transport MESSAGING_TRANSPORT names. */
  broker: BrokerAddress;
};

/** Reads everything once at start-up; a ConfigError names every bad or missing variable. */
export function readConfig(env: NodeJS.ProcessEnv = process.env): ReceiverConfig {
  const { settings, databaseUrl, broker } = readAllConfig({
    settings: () => loadConfig(receiverEnvSchema, env),
    databaseUrl: () => postgresUrlFromEnv(env, "receiverdb"),
    broker: () => brokerAddressFromEnv(env, "broker"),
  });
  return { ...settings, databaseUrl, brokerUrl: brokerConnectionString(broker), broker };
}
