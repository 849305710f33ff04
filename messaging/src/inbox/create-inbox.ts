import type { Logger } from "../logger.js";
import type pg from "pg";
import {
  applyMigrations,
  migrationStatus,
  type ApplyResult,
  type MigrationStatus,
} from "../schema/migrator.js";
import type { HandlerRegistry, MessageVersions } from "./handler-registry.js";
import { InboxConsumer, type InboxConsumerSettings } from "./inbox-consumer.js";
import {
  purgeOldInboxRows,
  retentionLockKey,
  type InboxPurgeOptions,
  type InboxPurgeResult,
} from "./inbox-retention.js";
import { InboxRetentionJob, type InboxRetentionOptions } from "./inbox-retention-job.js";
import { hasUngroupedRows } from "./inbox-store.js";
import { inboxTables, type InboxTableNames, type InboxTables } from "./inbox-tables.js";
import type {
  InboxHandlerResult,
  InboxTransaction,
  SelfDeduplicatingHandler,
} from "./process-inbox-batch.js";

export interface InboxOptions {
  /** PostgreSQL schema of the inbox tables. Default "public". */
  schema?: string;
  /** Prepended to the table names (`${prefix}inbox`, …). Default "". */
  tablePrefix?: string;
  /**
   * Existing tables (same columns) to record skipped duplicates and failed attempts in, instead of
   * `${prefix}inbox_duplicates` / `${prefix}inbox_failures`.
   */
  tables?: InboxTableNames;
}

/** startConsumer's options: the consumer settings, the handlers and the retention job. */
export type InboxConsumerOptions<D extends MessageVersions> = InboxConsumerSettings &
  (
    | {
        /** The group's handler per message type; each runs in the transaction that records its inbox row. */
        handlers: HandlerRegistry<D, InboxTransaction, InboxHandlerResult>;
        /** Deletes this inbox table's rows older than the duplicate window, one instance at a time. */
        retention?: InboxRetentionOptions;
      }
    | {
        /** A group whose effect is its own inbox (no inbox rows): see SelfDeduplicatingHandler. */
        selfDeduplicating: SelfDeduplicatingHandler<D>;
        retention?: undefined;
      }
  );

/** A running inbox consumer (and its retention job, when asked for). */
export interface RunningInboxConsumer<D extends MessageVersions> {
  readonly consumer: InboxConsumer<D>;
  /** Stops the consumer (in-flight batches finish or are released) and the retention job. */
  stop(): Promise<void>;
}

export interface Inbox {
  /** The qualified table names the inbox uses. */
  readonly tables: InboxTables;
  /**
   * Applies the inbox's SQL (messaging/migrations/inbox/) in the schema: creates the tables, or
   * upgrades a single-group `inbox` table of receiver-service (rows kept; see docs/messaging.md).
   */
  migrate(pool: pg.Pool): Promise<ApplyResult>;
  /** Applied/pending/changed migrations, read-only (a runtime role may check at start-up). */
  migrationStatus(db: pg.Pool | pg.PoolClient): Promise<MigrationStatus>;
  /** Starts consuming `source` as `group` with the handlers (open() the transport first). */
  startConsumer<D extends MessageVersions>(options: InboxConsumerOptions<D>): RunningInboxConsumer<D>;
  /** One retention pass: deletes rows older than the window (one instance at a time). */
  purge(pool: pg.Pool, options: InboxPurgeOptions): Promise<InboxPurgeResult>;
  /** The retention pass's advisory lock key: pg_try_advisory_lock(hashtext(key)). */
  readonly retentionLockKey: string;
  /** A retention job (every instance may run one; one purges at a time). */
  retentionJob(pool: pg.Pool, options: InboxRetentionOptions & { logger: Logger }): InboxRetentionJob;
}

/**
 * The idempotent inbox: its tables in a schema and table prefix of the user's choice, and consumers
 * that apply each message once per consumer group (inbox row + the handler's effect in one
 * transaction), in batches with per-key order.
 */
export function createInbox(options: InboxOptions = {}): Inbox {
  const names = { schema: options.schema ?? "public", tablePrefix: options.tablePrefix ?? "" };
  const tables = inboxTables(names, options.tables);
  const target = { ...names, part: "inbox" };
  return {
    tables,
    migrate: (pool) => applyMigrations(pool, target),
    migrationStatus: (db) => migrationStatus(db, target),
    retentionLockKey: retentionLockKey(tables),
    purge: (pool, purgeOptions) => purgeOldInboxRows(pool, tables, purgeOptions),
    retentionJob: (pool, jobOptions) => new InboxRetentionJob({ ...jobOptions, pool, tables }),
    startConsumer<D extends MessageVersions>(consumerOptions: InboxConsumerOptions<D>) {
      const handlers =
        "handlers" in consumerOptions
          ? { registry: consumerOptions.handlers }
          : { selfDeduplicating: consumerOptions.selfDeduplicating };
      // Rows of an upgraded single-group inbox are never added, only purged: until a look-up says
      // there are none, every insert also checks for one (an index probe; always correct).
      let ungrouped = "handlers" in consumerOptions;
      if (ungrouped) {
        hasUngroupedRows(consumerOptions.pool, tables).then(
          (present) => {
            ungrouped = present;
          },
          () => undefined,
        );
      }
      const consumer = new InboxConsumer<D>(consumerOptions, tables, handlers, () => ungrouped);
      const retention =
        consumerOptions.retention === undefined
          ? undefined
          : new InboxRetentionJob({
              ...consumerOptions.retention,
              pool: consumerOptions.pool,
              tables,
              logger: consumerOptions.logger.child({ component: "inbox-retention" }),
            });
      consumer.start();
      retention?.start();
      return {
        consumer,
        async stop() {
          await Promise.all([consumer.stop(), retention?.stop()]);
        },
      };
    },
  };
}
