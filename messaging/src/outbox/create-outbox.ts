import type pg from "pg";
import {
  applyMigrations,
  migrationStatus,
  renderMigrations,
  type ApplyResult,
  type MigrationStatus,
  type RenderedMigration,
} from "../schema/migrator.js";
import { prefixedName, qualifiedName, validateSchemaNames } from "../schema/identifiers.js";
import {
  enqueueMessage,
  type EnqueueOptions,
  type EnqueueTransaction,
  type OutboxMessage,
} from "./enqueue.js";
import { purgeFinishedOutboxMessages, type PurgeOptions, type PurgeResult } from "./retention.js";
import type { TransactionalSqlDb } from "./sql-db.js";
import {
  startReceiptConsumer,
  type RunningReceiptConsumer,
  type StartReceiptConsumerOptions,
} from "./receipt-consumer.js";
import { startOutboxRelay, type OutboxRelayHandle, type StartRelayOptions } from "./start-relay.js";
import { outboxTables, type OutboxTables } from "./tables.js";

export interface OutboxConfig {
  /** PostgreSQL schema of the outbox tables (default "public"; created by migrate() when missing). */
  schema?: string;
  /**
   * Prepended to every table, index, constraint and function name (default ""). At most 15
   * characters: the longest name (a foreign key's) must stay within PostgreSQL's 63.
   */
  tablePrefix?: string;
  /**
   * The NOTIFY channel enqueue announces commits on and the relay listens to. Default: the
   * messages table's name, qualified by the schema unless it is public ("outbox_messages").
   */
  notifyChannel?: string;
}

export interface OutboxNames {
  schema: string;
  tablePrefix: string;
  notifyChannel: string;
  /** Quoted and qualified, for SQL: "schema"."prefixoutbox_messages". */
  messagesTable: string;
  attemptsTable: string;
  journalTable: string;
}

export interface Outbox {
  readonly names: OutboxNames;
  /** The drizzle table objects (admin queries, a host's drizzle-kit schema). */
  readonly tables: OutboxTables;
  /** Applies the outbox's SQL migrations (idempotent; concurrent callers serialise). */
  migrate(pool: pg.Pool): Promise<ApplyResult>;
  /** Applied / pending / changed migrations, read-only (a runtime role may call it). */
  migrationStatus(db: pg.Pool | pg.PoolClient | pg.Client): Promise<MigrationStatus>;
  /** The SQL of the migrations for these names, for users who apply it with their own tool. */
  migrationSql(): RenderedMigration[];
  /**
   * Writes the message in the caller's transaction (a pg client inside BEGIN, or a drizzle
   * transaction) and announces it to the relays at commit. Returns the message id.
   */
  enqueue(tx: EnqueueTransaction, message: OutboxMessage, options?: EnqueueOptions): Promise<string>;
  /**
   * Deletes published/delivered rows finished more than `olderThanMs` ago, in batches (what the
   * relay's retention job runs; for an operator's "purge now"). Pending and dead rows are kept.
   */
  purgeFinished(db: TransactionalSqlDb, options: PurgeOptions): Promise<PurgeResult>;
  /** Starts publishing this outbox's rows for one destination. */
  startRelay(options: StartRelayOptions): OutboxRelayHandle;
  /**
   * Starts consuming the delivery receipts the consumers' inboxes send back (through
   * `transport.consumer({ contract: "receipt" })`) and marks this outbox's rows delivered.
   */
  startReceiptConsumer(options: StartReceiptConsumerOptions): RunningReceiptConsumer;
}

const MIGRATIONS_PART = "outbox";
const MAX_CHANNEL_LENGTH = 63;

/** The transactional outbox in the schema and with the table prefix you choose. */
export function createOutbox(config: OutboxConfig = {}): Outbox {
  if (typeof config !== "object" || config === null)
    throw new TypeError("createOutbox: config must be an object");
  const names = validateSchemaNames({
    schema: config.schema ?? "public",
    tablePrefix: config.tablePrefix ?? "",
  });
  const messagesName = prefixedName(names.tablePrefix, "outbox_messages");
  const notifyChannel =
    config.notifyChannel ?? (names.schema === "public" ? messagesName : `${names.schema}.${messagesName}`);
  if (typeof notifyChannel !== "string" || notifyChannel === "" || notifyChannel.length > MAX_CHANNEL_LENGTH)
    throw new TypeError(`createOutbox: notifyChannel must be 1..${MAX_CHANNEL_LENGTH} characters`);
  const tables = outboxTables(names);
  const target = { ...names, part: MIGRATIONS_PART };
  // Renders the SQL once now: a prefix that makes any name too long is refused here, not at migrate.
  renderMigrations(target);
  return {
    names: {
      ...names,
      notifyChannel,
      messagesTable: qualifiedName(names, "outbox_messages"),
      attemptsTable: qualifiedName(names, "outbox_attempts"),
      journalTable: qualifiedName(names, "messaging_migrations"),
    },
    tables,
    migrate: (pool) => applyMigrations(pool, target),
    migrationStatus: (db) => migrationStatus(db, target),
    migrationSql: () => renderMigrations(target),
    enqueue: (tx, message, options) => enqueueMessage(tx, tables, notifyChannel, message, options),
    purgeFinished: (db, options) => purgeFinishedOutboxMessages(db, tables, options),
    startRelay: (options) => startOutboxRelay(tables, notifyChannel, options),
    startReceiptConsumer: (options) => startReceiptConsumer(tables, options),
  };
}
