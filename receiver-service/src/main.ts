import {
  AmqpConnection,
  BrokerManagement,
  BrokerUnavailableError,
  DeadLetterQueue,
  defaultDeadLetterQueue,
} from "@outbox/messaging";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  ConfigError,
  adminTokensFromEnv,
  prepareSchemaAtStart,
  SchemaNotMigratedError,
  ServiceHost,
  createLogger,
  isTransientConnectionError,
  type HealthCheck,
} from "@outbox/service-defaults";
import { readConfig, type ReceiverConfig } from "./config.js";
import {
  createDatabase,
  createPool,
  databaseHealthCheck,
  migrationsFolder,
  pingDatabase,
  runMigrations,
} from "./data/db.js";
import { PgAuditStore } from "./data/audit-store.js";
import { PgInboxStore } from "./data/inbox-store.js";
import { recordDeliveryFailure, recordDuplicateDelivery } from "./data/queries.js";
import { applyEvent } from "./domain/apply-event.js";
import { applyEvents } from "./domain/apply-events.js";
import { recordAuditEntries, recordAuditEntry } from "./domain/record-audit-entry.js";
import { registerDeadLetterRoutes } from "./http/dead-letter-routes.js";
import { registerMessageJourneyRoutes } from "./http/message-journey-routes.js";
import { registerRoutes } from "./http/routes.js";
import { InboxConsumer } from "./messaging/consumer.js";
import { InboxRetentionJob } from "./messaging/inbox-retention-job.js";
import { describeError } from "./messaging/classify-error.js";
import { createBatchProcessor } from "./messaging/process-batch.js";
import { createMessageProcessor, type ProcessorOptions } from "./messaging/process-message.js";
import { ReceiptPublisher } from "./messaging/receipt-publisher.js";

const SERVICE_NAME = "receiver-service";

let config: ReceiverConfig;
let adminTokens: string[];
try {
  config = readConfig();
  adminTokens = adminTokensFromEnv();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
  version: string;
};
const logger = createLogger(config.OTEL_SERVICE_NAME ?? SERVICE_NAME, config.LOG_LEVEL);

const pool = createPool({
  url: config.databaseUrl,
  max: config.PG_POOL_MAX,
  statementTimeoutMs: config.PG_STATEMENT_TIMEOUT_MS,
  onIdleError: (error) => logger.warn({ error: error.message }, "idle PostgreSQL connection failed"),
});
const db = createDatabase(pool);
// The schema is migrated by a separate step with the owner's credentials, which this process never
// holds (docs/security.md): here it is only checked, unless an operator chose MIGRATE_AT_START.
try {
  await prepareSchemaAtStart({
    connectionName: "receiverdb",
    env: process.env,
    migrateAtStart: config.MIGRATE_AT_START,
    runtime: pool,
    migrationsFolder,
    migrate: async (url) => {
      const migrationPool = createPool({
        url,
        max: 1,
        onIdleError: (error) =>
          logger.warn({ error: error.message }, "idle PostgreSQL migration connection failed"),
      });
      try {
        await runMigrations(migrationPool);
      } finally {
        await migrationPool.end().catch(() => undefined);
      }
    },
    logger,
  });
} catch (error) {
  logger.fatal(
    { err: error },
    error instanceof SchemaNotMigratedError ? error.message : "database schema not ready",
  );
  await pool.end().catch(() => undefined);
  process.exit(1);
}

const amqp = new AmqpConnection({
  url: config.brokerUrl,
  containerId: `${SERVICE_NAME}-${randomUUID()}`,
  logger,
});
const receipts =
  config.RECEIPTS_ADDRESS === undefined
    ? undefined
    : new ReceiptPublisher(
        amqp.connection,
        config.RECEIPTS_ADDRESS,
        config.RECEIVER_GROUP,
        config.RECEIPT_TIMEOUT_MS,
      );
const inboxStore = new PgInboxStore(db);
const receiverProcessing: ProcessorOptions = {
  apply: (event) => applyEvent(inboxStore, event),
  // One receipt per commit, after it and before the accepts (see ReceiptPublisher).
  ...(receipts !== undefined ? { afterApply: (applied) => receipts.publish(applied) } : {}),
};
const consumer = new InboxConsumer({
  connection: amqp.connection,
  queue: config.RECEIVER_QUEUE,
  group: config.RECEIVER_GROUP,
  maxInFlight: config.RECEIVER_MAX_IN_FLIGHT,
  logger,
  process: createMessageProcessor(receiverProcessing),
  ...batching(config.RECEIVER_GROUP, {
    ...receiverProcessing,
    applyBatch: (events) => applyEvents(inboxStore, events),
  }),
  recordFailure: (failure) => recordDeliveryFailure(db, failure),
  recordDuplicate: (duplicate) => recordDuplicateDelivery(db, duplicate),
  probe: () => pingDatabase(pool),
});
// The second consumer group of this repository: an audit log of every event, with its own queue,
// retry budget and dead-letter queue (declared in the AppHost model).
const auditStore = new PgAuditStore(db);
const audit =
  config.AUDIT_QUEUE === undefined
    ? undefined
    : new InboxConsumer({
        connection: amqp.connection,
        queue: config.AUDIT_QUEUE,
        group: "audit",
        maxInFlight: config.RECEIVER_MAX_IN_FLIGHT,
        logger,
        process: createMessageProcessor({ apply: (event) => recordAuditEntry(auditStore, event) }),
        ...batching("audit", {
          apply: (event) => recordAuditEntry(auditStore, event),
          applyBatch: (events) => recordAuditEntries(auditStore, events),
        }),
        recordFailure: (failure) => recordDeliveryFailure(db, failure),
        recordDuplicate: (duplicate) => recordDuplicateDelivery(db, duplicate),
        probe: () => pingDatabase(pool),
      });

const host = new ServiceHost({
  name: SERVICE_NAME,
  version,
  logger,
  port: config.PORT,
  host: config.HOST,
  shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
  description:
    "Applies EntityItemCreated messages exactly once (inbox + effect in one transaction) and serves what it received.",
  // Dead letters, delivery failures and each message's journey (its failures' errors) are operator
  // data: admin bearer token (docs/security.md). Public: the received items alone.
  admin: {
    routePrefixes: ["/api/DeadLetters", "/api/DeliveryFailures", "/api/messages", "/api/consumer-groups"],
    tokens: adminTokens,
  },
  unavailableWhen: (error) => isTransientConnectionError(error) || error instanceof BrokerUnavailableError,
});
registerRoutes(host, db);
const management = new BrokerManagement(amqp.connection);
const deadLetterQueues = new Map([
  [
    config.RECEIVER_GROUP,
    new DeadLetterQueue(management, config.RECEIVER_DLQ ?? defaultDeadLetterQueue(config.RECEIVER_QUEUE)),
  ],
]);
if (config.AUDIT_QUEUE !== undefined) {
  deadLetterQueues.set("audit", new DeadLetterQueue(management, defaultDeadLetterQueue(config.AUDIT_QUEUE)));
}
registerDeadLetterRoutes(host, db, { byGroup: deadLetterQueues, defaultGroup: config.RECEIVER_GROUP });
registerMessageJourneyRoutes(host, {
  db,
  mainGroup: config.RECEIVER_GROUP,
  ...(audit ? { auditGroup: "audit" } : {}),
  groups: [...deadLetterQueues.keys()],
});
host.addHealthCheck("database", databaseHealthCheck(pool));
host.addHealthCheck("broker", brokerHealthCheck(amqp, consumer));
if (audit !== undefined) host.addHealthCheck("audit", brokerHealthCheck(amqp, audit));
// Deletes inbox rows older than the duplicate window, one instance at a time (docs/receiver.md).
const retention =
  config.INBOX_RETENTION_MS > 0
    ? new InboxRetentionJob({
        pool,
        retentionMs: config.INBOX_RETENTION_MS,
        intervalMs: config.INBOX_RETENTION_INTERVAL_MS,
        batchSize: config.INBOX_RETENTION_BATCH_SIZE,
        logger: logger.child({ component: "inbox-retention" }),
      })
    : undefined;
// Hooks run in reverse order: consumers first (settle in-flight work, receipts included), then the
// receipt and management links, the broker, the pool.
host.onShutdown("postgres", () => pool.end());
host.onShutdown("broker", () => amqp.close());
host.onShutdown("management", () => Promise.resolve(management.close()));
host.onShutdown("receipts", () => Promise.resolve(receipts?.close()));
host.onShutdown("consumer", () => consumer.stop());
host.onShutdown("audit-consumer", async () => audit?.stop());
host.onShutdown("inbox-retention", async () => retention?.stop());

amqp.open();
consumer.start();
audit?.start();
retention?.start();
await host.start();

/** Batch settings for a consumer (none when RECEIVER_BATCH_SIZE is 1: one transaction per message). */
function batching(
  group: string,
  options: Parameters<typeof createBatchProcessor>[0],
): { batch?: NonNullable<ConstructorParameters<typeof InboxConsumer>[0]["batch"]> } {
  if (config.RECEIVER_BATCH_SIZE <= 1) return {};
  const process = createBatchProcessor({
    ...options,
    onFallback: (events, error) =>
      logger.info(
        { group, events, error: describeError(error) },
        "batch transaction failed; applying its messages one at a time",
      ),
  });
  return {
    batch: { process, maxSize: config.RECEIVER_BATCH_SIZE, lingerMs: config.RECEIVER_BATCH_LINGER_MS },
  };
}

/** The connection's state when it is down (it says why), otherwise whether our link is attached. */
function brokerHealthCheck(connection: AmqpConnection, inbox: InboxConsumer): HealthCheck {
  const connectionCheck = connection.healthCheck();
  const consumerCheck = inbox.healthCheck();
  return async () => (connection.isConnected() ? consumerCheck() : connectionCheck());
}
