import {
  amqpUrlFromEnv,
  baseEnvSchema,
  loadConfig,
  postgresUrlFromEnv,
  readAllConfig,
} from "@outbox/service-defaults";
import { z } from "zod";

/** Plain settings of the receiver, on top of what every service reads. */
export const receiverEnvSchema = baseEnvSchema.extend({
  /** The queue this consumer group consumes (pre-created by the AppHost: `<topic>.<group>`). */
  RECEIVER_QUEUE: z.string().trim().min(1).default("entity-items.receiver"),
  /** The consumer group's name, in receipts, logs and telemetry. */
  RECEIVER_GROUP: z.string().trim().min(1).default("receiver"),
  /** The audit consumer group's queue; when set, this process also runs the audit projection. */
  AUDIT_QUEUE: z.string().trim().min(1).optional(),
  /** Where delivery receipts go (an anycast queue the sender consumes); unset: no receipts. */
  RECEIPTS_ADDRESS: z.string().trim().min(1).optional(),
  /** A receipt without the broker's outcome after this long counts as not sent (the message is retried). */
  RECEIPT_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  /** Deliveries processed at once; also the most the broker has outstanding to us. */
  RECEIVER_MAX_IN_FLIGHT: z.coerce.number().int().min(1).max(1000).default(16),
  /**
   * The dead-letter queue the admin API operates on; default `DLQ.<address of RECEIVER_QUEUE>`
   * (the broker's per-address DLQ on the dead-letter address `DLQ`).
   */
  RECEIVER_DLQ: z.string().trim().min(1).optional(),
  /**
   * Deliveries applied in one transaction, at most (and at most RECEIVER_MAX_IN_FLIGHT); 1 applies
   * each message in its own transaction.
   */
  RECEIVER_BATCH_SIZE: z.coerce.number().int().min(1).max(1000).default(50),
  /** How long a batch waits for more deliveries while another batch is running. */
  RECEIVER_BATCH_LINGER_MS: z.coerce.number().int().min(0).max(1000).default(5),
  PG_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
  /**
   * Inbox rows received longer ago than this are deleted (default 7 days); 0 keeps them forever.
   * This is the duplicate window: a redelivery older than it is no longer known by message id.
   */
  INBOX_RETENTION_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(7 * 24 * 3_600_000),
  INBOX_RETENTION_INTERVAL_MS: z.coerce.number().int().min(1_000).default(60_000),
  INBOX_RETENTION_BATCH_SIZE: z.coerce.number().int().min(1).max(100_000).default(1_000),
});

export type ReceiverConfig = z.infer<typeof receiverEnvSchema> & {
  /** ConnectionStrings__receiverdb, falling back to RECEIVERDB_URI. */
  databaseUrl: string;
  /** ConnectionStrings__broker, falling back to BROKER_URI. */
  brokerUrl: string;
};

/** Reads everything once at start-up; a ConfigError names every bad or missing variable. */
export function readConfig(env: NodeJS.ProcessEnv = process.env): ReceiverConfig {
  const { settings, databaseUrl, brokerUrl } = readAllConfig({
    settings: () => loadConfig(receiverEnvSchema, env),
    databaseUrl: () => postgresUrlFromEnv(env, "receiverdb"),
    brokerUrl: () => amqpUrlFromEnv(env, "broker"),
  });
  return { ...settings, databaseUrl, brokerUrl };
}
