import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  AmqpConnection,
  ConfigError,
  ServiceHost,
  createLogger,
  type HealthCheck,
} from "@outbox/service-defaults";
import { readConfig, type ReceiverConfig } from "./config.js";
import { createDatabase, createPool, databaseHealthCheck, pingDatabase, runMigrations } from "./data/db.js";
import { PgInboxStore } from "./data/inbox-store.js";
import { recordDeliveryFailure } from "./data/queries.js";
import { registerRoutes } from "./http/routes.js";
import { InboxConsumer } from "./messaging/consumer.js";
import { createMessageProcessor } from "./messaging/process-message.js";

const SERVICE_NAME = "receiver-service";

let config: ReceiverConfig;
try {
  config = readConfig();
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
  onIdleError: (error) => logger.warn({ error: error.message }, "idle PostgreSQL connection failed"),
});
const db = createDatabase(pool);
try {
  await runMigrations(pool);
  logger.info("database migrations applied");
} catch (error) {
  logger.fatal({ err: error }, "could not apply database migrations");
  await pool.end().catch(() => undefined);
  process.exit(1);
}

const amqp = new AmqpConnection({
  url: config.brokerUrl,
  containerId: `${SERVICE_NAME}-${randomUUID()}`,
  logger,
});
const consumer = new InboxConsumer({
  connection: amqp.connection,
  queue: config.RECEIVER_QUEUE,
  maxInFlight: config.RECEIVER_MAX_IN_FLIGHT,
  logger,
  process: createMessageProcessor(new PgInboxStore(db)),
  recordFailure: (failure) => recordDeliveryFailure(db, failure),
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
});
registerRoutes(host, db);
host.addHealthCheck("database", databaseHealthCheck(pool));
host.addHealthCheck("broker", brokerHealthCheck(amqp, consumer));
// Hooks run in reverse order: consumer first (settle in-flight work), then the broker, then the pool.
host.onShutdown("postgres", () => pool.end());
host.onShutdown("broker", () => amqp.close());
host.onShutdown("consumer", () => consumer.stop());

amqp.open();
consumer.start();
await host.start();

/** The connection's state when it is down (it says why), otherwise whether our link is attached. */
function brokerHealthCheck(connection: AmqpConnection, inbox: InboxConsumer): HealthCheck {
  const connectionCheck = connection.healthCheck();
  const consumerCheck = inbox.healthCheck();
  return async () => (connection.isConnected() ? consumerCheck() : connectionCheck());
}
