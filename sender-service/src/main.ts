import { outboxAdminRoutes } from "@outbox/messaging";
import { readFileSync } from "node:fs";
import {
  ConfigError,
  adminTokensFromEnv,
  prepareSchemaAtStart,
  SchemaNotMigratedError,
  createLogger,
  databaseUnavailableResponse,
  isTransientConnectionError,
  rethrowAsUnavailable,
  ServiceHost,
  type HealthCheck,
} from "@outbox/service-defaults";
import { loadSenderConfig, type SenderConfig } from "./config.js";
import { databaseHealthCheck } from "./data/database-health.js";
import { createDatabase, createPool, pingDatabase } from "./data/db.js";
import { assertOutboxMigrated, migrationsFolder, runMigrations } from "./data/migrate.js";
import { IdempotencyKeyPurger } from "./data/idempotency-key-purger.js";
import { registerEntityItemRoutes } from "./http/entity-items-routes.js";
import { registerOutboxJourneyRoutes } from "./http/outbox-journey-routes.js";
import { registerReceiptDeadLetterRoutes } from "./http/receipt-dead-letter-routes.js";
import { outbox } from "./messaging/outbox.js";
import { senderMessaging } from "./messaging/transport.js";

const SERVICE_NAME = "sender-service";
const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
  version: string;
};

let config: SenderConfig;
let adminTokens: string[];
try {
  config = loadSenderConfig();
  adminTokens = adminTokensFromEnv();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}

const logger = createLogger(config.serviceName, config.logLevel);
logger.info({ instanceId: config.instanceId, address: config.outbox.address }, `${SERVICE_NAME} starting`);

const pool = createPool({
  url: config.databaseUrl,
  max: config.pgPoolMax,
  applicationName: config.instanceId,
  statementTimeoutMs: config.statementTimeoutMs,
  onError: (error) => logger.warn({ err: error }, "idle PostgreSQL connection failed"),
});
// The schema is migrated by a separate step with the owner's credentials, which this process never
// holds (docs/security.md): here it is only checked, unless an operator chose MIGRATE_AT_START.
try {
  await prepareSchemaAtStart({
    connectionName: "senderdb",
    env: process.env,
    migrateAtStart: config.migrateAtStart,
    runtime: pool,
    migrationsFolder,
    checks: [() => assertOutboxMigrated(pool)],
    migrate: async (url) => {
      const migrationPool = createPool({
        url,
        max: 1,
        applicationName: `${config.instanceId}-migrations`,
        onError: (error) => logger.warn({ err: error }, "idle PostgreSQL migration connection failed"),
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
const db = createDatabase(pool);

// The broker MESSAGING_TRANSPORT names (Artemis by default, or Kafka): only configuration differs.
const messaging = senderMessaging(config, logger);
const { transport } = messaging;
// The relay of @outbox/messaging: its own connections (claim/mark commit without waiting for the
// WAL flush unless OUTBOX_SYNCHRONOUS_COMMIT), LISTEN for commits, retention, metrics.
const relay = outbox.startRelay({
  pool,
  ...messaging.relay,
  owner: config.instanceId,
  destination: config.outbox.address,
  batchSize: config.outbox.batchSize,
  concurrency: config.outbox.concurrency,
  leaseMs: config.outbox.leaseMs,
  pollIntervalMs: config.outbox.pollIntervalMs,
  sendTimeoutMs: config.outbox.sendTimeoutMs,
  backoff: config.outbox.backoff,
  maxAttempts: config.outbox.maxAttempts,
  deadBlocksAggregate: config.outbox.deadBlocksAggregate,
  listen: config.outbox.listen,
  synchronousCommit: config.outbox.synchronousCommit,
  retention: config.outbox.retention.retentionMs > 0 ? config.outbox.retention : false,
  logger,
});

const host = new ServiceHost({
  name: SERVICE_NAME,
  version,
  logger,
  port: config.port,
  host: config.host,
  shutdownTimeoutMs: config.shutdownTimeoutMs,
  description: "Writes EntityItems and publishes their events through a transactional outbox",
  // The outbox operator API needs the admin bearer token (docs/security.md).
  admin: { routePrefixes: ["/api/outbox"], tokens: adminTokens },
  unavailableWhen: isTransientConnectionError,
});
registerEntityItemRoutes(host, {
  db,
  outboxAddress: config.outbox.address,
  idempotencyKeyTtlMs: config.idempotency.keyTtlMs,
});
// Delivery receipts from the receiver mark outbox rows delivered (end-to-end status).
// (The consumer attaches at once, so the connection opens first, as in the receiver.)
transport.open();
const receipts =
  config.receiptsQueue === undefined || messaging.receipts === undefined
    ? undefined
    : outbox.startReceiptConsumer({
        db,
        transport,
        ...messaging.receipts,
        destinationName: config.receiptsQueue,
        probe: () => pingDatabase(pool, 1_500).then(() => true),
        logger: logger.child({ component: "receipts" }),
      });
if (receipts !== undefined) host.addHealthCheck("receipts", receipts.healthCheck());
// Receipts the consumer could not record end in the receipts' dead letters: browse and replay them.
if (messaging.receiptDeadLetters !== undefined)
  registerReceiptDeadLetterRoutes(host, { db, dlq: messaging.receiptDeadLetters });
const idempotencyPurger = new IdempotencyKeyPurger({
  db,
  intervalMs: config.idempotency.purgeIntervalMs,
  logger: logger.child({ component: "idempotency-purge" }),
});
// The library's outbox admin routes; a database outage answers service-defaults' 503 (busy pool too).
for (const spec of outboxAdminRoutes({
  outbox,
  db,
  databaseUnavailable: { response: databaseUnavailableResponse, rethrow: rethrowAsUnavailable },
}))
  host.route(spec);
registerOutboxJourneyRoutes(host, { db });

host.addHealthCheck("database", databaseHealthCheck(pool));
// A broker outage makes the sender degraded, not unhealthy: writes keep succeeding into the
// outbox (its very purpose) and are published once the broker is back.
host.addHealthCheck("broker", degradedWhenUnhealthy(messaging.brokerHealthCheck));
host.addHealthCheck("outbox", relay.healthCheck());

// Run in reverse order: the relay stops first (releasing its claims: its budget must not wait
// behind the other hooks), then the receipts (bounded, 1.5 s) and the jobs, all before the
// transport's AMQP connection closes and before the pools they use end.
host.onShutdown("postgres", () => pool.end());
host.onShutdown("amqp", () => transport.close());
host.onShutdown("idempotency-purge", () => idempotencyPurger.stop());
host.onShutdown("receipts", async () => receipts?.stop());
host.onShutdown("management", () => messaging.closeDeadLetters());
host.onShutdown("relay", () => relay.stop());

await host.start();
idempotencyPurger.start();

function degradedWhenUnhealthy(check: HealthCheck): HealthCheck {
  return async () => {
    const result = await check();
    return result.status === "unhealthy" ? { ...result, status: "degraded" } : result;
  };
}
