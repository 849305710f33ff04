import { BrokerUnavailableError, type InboxConsumerSettings } from "@outbox/messaging";
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
} from "@outbox/service-defaults";
import { readConfig, type ReceiverConfig } from "./config.js";
import {
  createDatabase,
  createPool,
  databaseHealthCheck,
  migrationsFolder,
  pingDatabase,
  receiverInbox,
  runMigrations,
} from "./data/db.js";
import { auditLogOn } from "./data/audit-store.js";
import { receivedItemsOn } from "./data/received-items-store.js";
import { entityEvents } from "./domain/events.js";
import { receiverHandlers } from "./domain/receiver-handlers.js";
import { appendAuditEntries } from "./domain/record-audit-entry.js";
import { registerDeadLetterRoutes } from "./http/dead-letter-routes.js";
import { registerMessageJourneyRoutes } from "./http/message-journey-routes.js";
import { registerRoutes } from "./http/routes.js";
import { receiverMessaging } from "./messaging-transport.js";

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

// The inbox's own SQL (messaging/migrations/inbox) is applied by the same migrations step.
const inboxStatus = await receiverInbox.migrationStatus(pool).catch((error: unknown) => {
  logger.fatal({ err: error }, "cannot read the inbox migrations journal");
  return undefined;
});
if (inboxStatus === undefined || inboxStatus.pending.length > 0 || inboxStatus.changed.length > 0) {
  if (inboxStatus !== undefined) {
    logger.fatal(inboxStatus, "the inbox tables are not migrated: run the migrations step first");
  }
  await pool.end().catch(() => undefined);
  process.exit(1);
}

// The broker MESSAGING_TRANSPORT names (Artemis by default, or Kafka): only configuration differs.
let messaging: ReturnType<typeof receiverMessaging>;
try {
  messaging = receiverMessaging(config, logger, `${SERVICE_NAME}-${randomUUID()}`);
} catch (error) {
  logger.fatal({ err: error }, (error as Error).message);
  await pool.end().catch(() => undefined);
  process.exit(1);
}
const { transport, deadLetterQueues } = messaging;
/** What both consumer groups share: the pool, the broker, batching and the database probe. */
function consumerSettings(queue: string, group: string): InboxConsumerSettings {
  return {
    pool,
    transport,
    ...messaging.sourceOf(queue, group),
    destinationName: queue,
    group,
    logger,
    maxInFlight: config.RECEIVER_MAX_IN_FLIGHT,
    // 1: one transaction per message.
    batchSize: Math.max(1, config.RECEIVER_BATCH_SIZE),
    lingerMs: config.RECEIVER_BATCH_SIZE > 1 ? config.RECEIVER_BATCH_LINGER_MS : 0,
    probe: () => pingDatabase(pool),
  };
}
// One receipt per commit, after it and before the accepts (docs/receiver.md).
const receipts =
  config.RECEIPTS_ADDRESS === undefined
    ? undefined
    : { destination: config.RECEIPTS_ADDRESS, timeoutMs: config.RECEIPT_TIMEOUT_MS };
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
registerDeadLetterRoutes(host, db, { byGroup: deadLetterQueues, defaultGroup: config.RECEIVER_GROUP });
registerMessageJourneyRoutes(host, {
  db,
  mainGroup: config.RECEIVER_GROUP,
  ...(config.AUDIT_QUEUE !== undefined ? { auditGroup: "audit" } : {}),
  groups: [...deadLetterQueues.keys()],
});

transport.open();
// The receiver group: inbox rows + entity copies in one transaction, receipts back to the sender,
// and the inbox retention (rows older than the duplicate window, one instance at a time).
const consumer = receiverInbox.startConsumer({
  ...consumerSettings(config.RECEIVER_QUEUE, config.RECEIVER_GROUP),
  handlers: receiverHandlers(receivedItemsOn),
  ...(receipts !== undefined ? { receipts } : {}),
  ...(config.INBOX_RETENTION_MS > 0
    ? {
        retention: {
          retentionMs: config.INBOX_RETENTION_MS,
          intervalMs: config.INBOX_RETENTION_INTERVAL_MS,
          batchSize: config.INBOX_RETENTION_BATCH_SIZE,
        },
      }
    : {}),
});
// The second consumer group of this repository: an audit log of every event, with its own queue,
// retry budget and dead-letter queue (declared in the AppHost model). The log is its own inbox (its
// primary key is the message id), so it writes no inbox rows.
const audit =
  config.AUDIT_QUEUE === undefined
    ? undefined
    : receiverInbox.startConsumer({
        ...consumerSettings(config.AUDIT_QUEUE, "audit"),
        selfDeduplicating: {
          types: entityEvents,
          applyBatch: (events, tx) => appendAuditEntries(auditLogOn(tx), events),
        },
      });

host.addHealthCheck("database", databaseHealthCheck(pool));
host.addHealthCheck("broker", messaging.brokerHealthCheck(consumer.consumer.healthCheck()));
if (audit !== undefined)
  host.addHealthCheck("audit", messaging.brokerHealthCheck(audit.consumer.healthCheck()));
// Hooks run in reverse order: consumers first (settle in-flight work, receipts included, and the
// retention job), then the dead-letter side (Artemis' management link), the broker, the pool.
host.onShutdown("postgres", () => pool.end());
host.onShutdown("broker", () => transport.close());
host.onShutdown("management", () => messaging.closeDeadLetters());
host.onShutdown("consumer", () => consumer.stop());
host.onShutdown("audit-consumer", async () => audit?.stop());
await host.start();
