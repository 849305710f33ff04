import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type pg from "pg";
import { prefixedName, quoteIdentifier, validateSchemaNames, type SchemaNames } from "./identifiers.js";

/**
 * The library's own migration runner. Each part (outbox, inbox) ships plain SQL files in
 * messaging/migrations/<part>/, applied in name order, each in its own transaction, and recorded in
 * a journal table `${schema}.${prefix}messaging_migrations` shared by the parts.
 *
 * The files use the placeholders `${schema}` and `${prefix}` — the syntax Flyway and Liquibase
 * substitute — so a user with one of those tools can apply them unchanged. This runner substitutes
 * quoted identifiers: `${schema}` → "schema", `${prefix}name` → "prefixname".
 */

/** The directory that holds the library's SQL files, one sub-directory per part. */
export const migrationsRoot = fileURLToPath(new URL("../../migrations/", import.meta.url));

export const JOURNAL_TABLE = "messaging_migrations";

export interface MigrationTarget extends SchemaNames {
  /** "outbox", "inbox": the sub-directory of the SQL files and the journal's `part`. */
  part: string;
  /** Where the part's SQL files are; default `migrationsRoot/<part>`. */
  directory?: string;
}

export interface MigrationFile {
  name: string;
  /** The file as shipped, placeholders and all. */
  template: string;
  /** sha256 of the template: a changed file under the same name is refused. */
  checksum: string;
}

export interface RenderedMigration {
  name: string;
  checksum: string;
  sql: string;
}

export interface MigrationStatus {
  applied: string[];
  pending: string[];
  /** Applied files whose checksum differs from the shipped file. */
  changed: string[];
}

/** The part's SQL files in the order they apply. */
export function readMigrationFiles(target: Pick<MigrationTarget, "part" | "directory">): MigrationFile[] {
  if (!/^[a-z][a-z0-9_-]*$/.test(target.part)) {
    throw new Error(`invalid migrations part ${JSON.stringify(target.part)}`);
  }
  const directory = target.directory ?? `${migrationsRoot}${target.part}`;
  let names: string[];
  try {
    names = readdirSync(directory).filter((name) => name.endsWith(".sql"));
  } catch (error) {
    throw new Error(`cannot read the ${target.part} migrations in ${directory}: ${(error as Error).message}`);
  }
  if (names.length === 0) throw new Error(`no ${target.part} migrations (*.sql) in ${directory}`);
  return names.sort().map((name) => {
    const template = readFileSync(`${directory}/${name}`, "utf8");
    return { name, template, checksum: createHash("sha256").update(template).digest("hex") };
  });
}

/**
 * Substitutes the placeholders of one SQL template with quoted identifiers. `${prefix}` must be
 * followed by the rest of a name; any other `${…}` is an error (a typo would otherwise reach SQL).
 */
export function renderSql(template: string, names: SchemaNames): string {
  const { schema, tablePrefix } = validateSchemaNames(names);
  return template.replace(/\$\{([A-Za-z_]*)\}([a-z0-9_]*)/g, (match, placeholder: string, rest: string) => {
    if (placeholder === "schema") return `${quoteIdentifier(schema)}${rest}`;
    if (placeholder === "prefix") {
      if (rest === "") throw new Error(`\${prefix} must start a name in the SQL: ${match}`);
      return quoteIdentifier(prefixedName(tablePrefix, rest));
    }
    throw new Error(`unknown placeholder ${match} in the SQL (only \${schema} and \${prefix})`);
  });
}

/** The part's SQL, rendered for the given names: for users who apply it with their own tooling. */
export function renderMigrations(target: MigrationTarget): RenderedMigration[] {
  return readMigrationFiles(target).map((file) => ({
    name: file.name,
    checksum: file.checksum,
    sql: renderSql(file.template, target),
  }));
}

interface Queryable {
  query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

function journalName(names: SchemaNames): string {
  return `${quoteIdentifier(names.schema)}.${quoteIdentifier(prefixedName(names.tablePrefix, JOURNAL_TABLE))}`;
}

/**
 * What is applied, pending and changed, read-only (a runtime role may call it: the journal is
 * readable by every role). A missing journal means nothing is applied.
 */
export async function migrationStatus(db: Queryable, target: MigrationTarget): Promise<MigrationStatus> {
  const names = validateSchemaNames(target);
  const files = readMigrationFiles(target);
  const exists = await db.query<{ present: boolean }>("SELECT to_regclass($1) IS NOT NULL AS present", [
    journalName(names),
  ]);
  const recorded = new Map<string, string>();
  if (exists.rows[0]?.present) {
    const result = await db.query<{ name: string; checksum: string }>(
      `SELECT name, checksum FROM ${journalName(names)} WHERE part = $1`,
      [target.part],
    );
    for (const row of result.rows) recorded.set(row.name, row.checksum);
  }
  const status: MigrationStatus = { applied: [], pending: [], changed: [] };
  for (const file of files) {
    const checksum = recorded.get(file.name);
    if (checksum === undefined) status.pending.push(file.name);
    else if (checksum !== file.checksum) status.changed.push(file.name);
    else status.applied.push(file.name);
  }
  return status;
}

export interface ApplyResult {
  /** Files applied by this call, in order. */
  applied: string[];
}

/**
 * Applies the part's pending files. Concurrent callers (several instances starting at once) are
 * serialised by an advisory lock per schema and prefix; files already applied are skipped, so it is
 * idempotent. Refuses to run when an applied file changed since (its checksum differs).
 */
export async function applyMigrations(pool: pg.Pool, target: MigrationTarget): Promise<ApplyResult> {
  const names = validateSchemaNames(target);
  const files = readMigrationFiles(target);
  const rendered = files.map((file) => ({ ...file, sql: renderSql(file.template, names) }));
  const journal = journalName(names);
  const client = await pool.connect();
  try {
    await client.query("SELECT pg_advisory_lock(hashtext($1))", [lockName(names)]);
    try {
      await ensureJournal(client, names);
      const status = await migrationStatus(client, target);
      if (status.changed.length > 0) {
        throw new Error(
          `the ${target.part} migration(s) ${status.changed.join(", ")} in schema ${names.schema} were applied with a different checksum: an applied migration must never change (see ${journal})`,
        );
      }
      const applied: string[] = [];
      for (const file of rendered) {
        if (!status.pending.includes(file.name)) continue;
        await client.query("BEGIN");
        try {
          await client.query(file.sql);
          await client.query(`INSERT INTO ${journal} (part, name, checksum) VALUES ($1, $2, $3)`, [
            target.part,
            file.name,
            file.checksum,
          ]);
          await client.query("COMMIT");
        } catch (error) {
          await client.query("ROLLBACK");
          throw new Error(
            `the ${target.part} migration ${file.name} failed in schema ${names.schema}: ${(error as Error).message}`,
            { cause: error },
          );
        }
        applied.push(file.name);
      }
      return { applied };
    } finally {
      await client.query("SELECT pg_advisory_unlock(hashtext($1))", [lockName(names)]);
    }
  } finally {
    client.release();
  }
}

function lockName(names: SchemaNames): string {
  return `@outbox/messaging migrations ${names.schema}.${names.tablePrefix}`;
}

/**
 * Creates the schema (only when missing: CREATE SCHEMA checks the database privilege even with
 * IF NOT EXISTS) and the journal. The journal is readable by every role, so that a service running
 * as a role that cannot migrate can still check at start-up that the migrations are applied.
 */
async function ensureJournal(client: pg.PoolClient, names: SchemaNames): Promise<void> {
  const schema = await client.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [names.schema]);
  if (schema.rowCount === 0)
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(names.schema)}`);
  const journal = journalName(names);
  const exists = await client.query<{ present: boolean }>("SELECT to_regclass($1) IS NOT NULL AS present", [
    journal,
  ]);
  if (exists.rows[0]?.present) return;
  await client.query(
    `CREATE TABLE IF NOT EXISTS ${journal} (
       part text NOT NULL,
       name text NOT NULL,
       checksum text NOT NULL,
       applied_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (part, name)
     )`,
  );
  await client.query(`GRANT SELECT ON ${journal} TO PUBLIC`);
}
