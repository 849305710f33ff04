import { readFileSync } from "node:fs";
import path from "node:path";
import { envPrefix, migrationsUrlFromEnv } from "./config.js";
import type { Logger } from "./logging.js";
import { retryWhileUnreachable } from "./postgres-availability.js";

/** The schema is behind the code: the migrations step has not run (or failed). */
export class SchemaNotMigratedError extends Error {
  override readonly name = "SchemaNotMigratedError";
}

/** What the check needs of a database connection (a `pg` pool or client). */
export interface JournalReader {
  query(text: string): Promise<{ rows: Array<Record<string, unknown>> }>;
}

/** The newest migration the code ships: the last entry of drizzle's `meta/_journal.json`. */
export function latestShippedMigration(migrationsFolder: string): { tag: string; when: number } {
  const file = path.join(migrationsFolder, "meta", "_journal.json");
  const journal = JSON.parse(readFileSync(file, "utf8")) as {
    entries?: Array<{ tag: string; when: number }>;
  };
  const last = journal.entries?.at(-1);
  if (last === undefined) throw new Error(`${file} lists no migration`);
  return last;
}

/** PostgreSQL error codes of a journal that is missing or that this role may not read. */
const NO_JOURNAL = new Set(["3F000", "42P01"]);
const NOT_READABLE = "42501";

/**
 * Resolves when every migration this code ships is applied, by reading drizzle's journal with the
 * service's own (runtime) role; rejects with SchemaNotMigratedError saying what to run otherwise.
 * The same rule as drizzle's migrator: applied when the newest journal row is at least as new as
 * the newest shipped migration. Connection errors pass through (callers retry them).
 */
export async function assertSchemaMigrated(
  db: JournalReader,
  migrationsFolder: string,
  database: string,
): Promise<void> {
  const shipped = latestShippedMigration(migrationsFolder);
  const behind = (what: string) =>
    new SchemaNotMigratedError(
      `the ${database} schema is not migrated (${what}; this code needs ${shipped.tag}): run the ` +
        "migrations step first (src/migrate-main.ts with <DB>_MIGRATIONS_URI set to the owner's URL; " +
        "the AppHost does it for withMigrations()), or set MIGRATE_AT_START=true to let the service " +
        "migrate with the credentials it is given",
    );
  let applied: number;
  try {
    const { rows } = await db.query(
      'SELECT max(created_at)::text AS applied FROM "drizzle"."__drizzle_migrations"',
    );
    const value = rows[0]?.applied;
    applied = typeof value === "string" ? Number(value) : Number.NaN;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === "string" && NO_JOURNAL.has(code)) throw behind("no migration has been applied");
    // The services' migrations let every role that may connect read the journal (0006 of the sender,
    // 0007 of the receiver): a journal this role may not read predates them.
    if (code === NOT_READABLE) throw behind("its migrations journal is older than this code");
    throw error;
  }
  if (Number.isNaN(applied)) throw behind("no migration has been applied");
  if (applied < shipped.when) throw behind("migrations newer than the database's are pending");
}

export interface SchemaAtStartOptions {
  /** The database's connection name (`senderdb`): names its variables and the messages. */
  connectionName: string;
  env: NodeJS.ProcessEnv;
  /** `MIGRATE_AT_START`: an operator's deliberate choice to let the service migrate itself. */
  migrateAtStart: boolean;
  /** The service's own (runtime) connection, for the check. */
  runtime: JournalReader;
  migrationsFolder: string;
  /**
   * Checks of migrations kept outside drizzle's journal (a library's own, such as
   * @outbox/messaging's), run after drizzle's with the runtime role: each throws
   * SchemaNotMigratedError when its migrations are behind.
   */
  checks?: ReadonlyArray<() => Promise<void>>;
  /** Applies the migrations with this URL (opening and closing a connection of its own). */
  migrate: (url: string) => Promise<void>;
  logger: Logger;
  /** How long an unreachable database is waited for. */
  waitMs?: number;
}

/**
 * What a service does with its schema at start-up. By default it only checks that the schema is
 * migrated (the migrations step ran, with the owner's credentials the service never holds) and
 * refuses to start otherwise. With `MIGRATE_AT_START=true` it applies the migrations itself, as
 * `<DB>_MIGRATIONS_URI` or else with its own URL (a deployment that gives it a single role).
 */
export async function prepareSchemaAtStart(options: SchemaAtStartOptions): Promise<void> {
  const { connectionName, env, logger } = options;
  const retry = (operation: () => Promise<void>, what: string) =>
    retryWhileUnreachable(operation, {
      waitMs: options.waitMs ?? 30_000,
      onRetry: (error, attempt) =>
        logger.warn({ err: error, attempt }, `database not reachable yet; retrying ${what}`),
    });
  const ownerVariable = `${envPrefix(connectionName)}_MIGRATIONS_URI`;
  if (options.migrateAtStart) {
    const url = migrationsUrlFromEnv(env, connectionName);
    await retry(() => options.migrate(url), "migrations");
    logger.info("database migrations applied (MIGRATE_AT_START)");
    return;
  }
  if (env[ownerVariable])
    logger.warn(
      `${ownerVariable} is set but not used: this service does not migrate at start-up (MIGRATE_AT_START is off); ` +
        "give the owner's URL to the migrations step only",
    );
  await retry(async () => {
    await assertSchemaMigrated(options.runtime, options.migrationsFolder, connectionName);
    for (const check of options.checks ?? []) await check();
  }, "the schema check");
  logger.info("database schema is migrated");
}
