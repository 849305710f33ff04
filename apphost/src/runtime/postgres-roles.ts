import pg from "pg";
import type { ConnectionInfo } from "./environment.js";

/** A login role and its password. */
export interface RoleCredentials {
  username: string;
  password: string;
}

/**
 * The two roles of a service database: the owner (owns the database, its schema and every table;
 * runs the migrations) and the runtime role the service connects with (reads and writes rows of
 * those tables, nothing else: no DDL, no TRUNCATE, no superuser powers such as COPY … PROGRAM).
 */
export interface DatabaseRoles {
  owner: RoleCredentials;
  runtime: RoleCredentials;
}

/** `<database>_owner` and `<database>_app`. */
export function databaseRoleNames(databaseName: string): { owner: string; runtime: string } {
  return { owner: `${databaseName}_owner`, runtime: `${databaseName}_app` };
}

/** The migrations journal's schema (drizzle's): the owner's alone, the runtime role gets nothing there. */
const JOURNAL_SCHEMA = "drizzle";

/** The database's own schemas: every schema but PostgreSQL's catalogs and temporary ones. */
const USER_SCHEMAS_SQL = `SELECT nspname FROM pg_namespace
  WHERE nspname <> 'information_schema' AND nspname NOT LIKE 'pg\\_%' ORDER BY nspname`;

/**
 * Creates or updates both roles and the ownership and grants they rely on; idempotent, run on each
 * start with a superuser connection. Plain SQL, so a server in a process or in a container gets the
 * same roles. Objects an earlier run created as the superuser are handed to the owner.
 */
export async function ensureDatabaseRoles(
  superuser: Omit<ConnectionInfo, "uri">,
  databaseName: string,
  roles: DatabaseRoles,
): Promise<void> {
  await withClient(superuser, "postgres", async (client) => {
    for (const role of [roles.owner, roles.runtime]) {
      const exists = (await client.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [role.username]))
        .rowCount;
      const options = `LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD ${client.escapeLiteral(role.password)}`;
      await client.query(
        `${exists ? "ALTER" : "CREATE"} ROLE ${client.escapeIdentifier(role.username)} ${exists ? "WITH " : ""}${options}`,
      );
    }
    const db = client.escapeIdentifier(databaseName);
    await client.query(`ALTER DATABASE ${db} OWNER TO ${client.escapeIdentifier(roles.owner.username)}`);
    await client.query(`REVOKE ALL ON DATABASE ${db} FROM PUBLIC`);
    await client.query(
      `GRANT CONNECT ON DATABASE ${db} TO ${client.escapeIdentifier(roles.runtime.username)}`,
    );
  });
  await withClient(superuser, databaseName, async (client) => {
    const owner = client.escapeIdentifier(roles.owner.username);
    const schemas = (await client.query<{ nspname: string }>(USER_SCHEMAS_SQL)).rows.map((r) => r.nspname);
    for (const schema of schemas)
      await client.query(`ALTER SCHEMA ${client.escapeIdentifier(schema)} OWNER TO ${owner}`);
    // Tables, views and free-standing sequences (a serial's sequence follows its table).
    const relations = await client.query<{ name: string; schema: string; kind: string }>(
      `SELECT c.relname AS name, n.nspname AS schema, c.relkind AS kind
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
          AND c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = $2)
          AND NOT (c.relkind = 'S' AND EXISTS (
                SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')))`,
      [schemas, roles.owner.username],
    );
    for (const r of relations.rows) {
      const name = `${client.escapeIdentifier(r.schema)}.${client.escapeIdentifier(r.name)}`;
      await client.query(`ALTER ${r.kind === "S" ? "SEQUENCE" : "TABLE"} ${name} OWNER TO ${owner}`);
    }
    const types = await client.query<{ name: string; schema: string }>(
      `SELECT t.typname AS name, n.nspname AS schema FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = ANY($1) AND t.typtype IN ('e', 'd', 'c') AND t.typrelid = 0
          AND t.typowner <> (SELECT oid FROM pg_roles WHERE rolname = $2)`,
      [schemas, roles.owner.username],
    );
    for (const t of types.rows)
      await client.query(
        `ALTER TYPE ${client.escapeIdentifier(t.schema)}.${client.escapeIdentifier(t.name)} OWNER TO ${owner}`,
      );
    await client.query(`REVOKE ALL ON SCHEMA public FROM PUBLIC`);
    await grantRuntimeAccess(client, roles.runtime.username, schemas);
  });
}

/**
 * After a migrations step, as the owner: the runtime role gets rows of the tables in every schema
 * the migrations created (a schema made on this run did not exist when the roles were ensured).
 */
export async function grantRuntimeRole(ownerUri: string, runtimeRole: string): Promise<void> {
  const client = new pg.Client({ connectionString: ownerUri, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    const owned = await client.query<{ nspname: string }>(
      `SELECT nspname FROM (${USER_SCHEMAS_SQL}) s
        WHERE (SELECT nspowner FROM pg_namespace n WHERE n.nspname = s.nspname) =
              (SELECT oid FROM pg_roles WHERE rolname = current_user)`,
    );
    await grantRuntimeAccess(
      client,
      runtimeRole,
      owned.rows.map((r) => r.nspname),
    );
  } finally {
    await client.end();
  }
}

/**
 * The runtime role: rows of the application's tables in each of `schemas` (the journal's excepted),
 * nothing more; tables the owner creates there later get the same grants.
 */
async function grantRuntimeAccess(client: pg.Client, runtimeRole: string, schemas: string[]): Promise<void> {
  const runtime = client.escapeIdentifier(runtimeRole);
  const owner = client.escapeIdentifier(
    (
      await client.query<{ owner: string }>(
        "SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = current_database()",
      )
    ).rows[0]?.owner ?? "",
  );
  for (const name of schemas) {
    if (name === JOURNAL_SCHEMA) continue;
    const schema = client.escapeIdentifier(name);
    await client.query(`GRANT USAGE ON SCHEMA ${schema} TO ${runtime}`);
    await client.query(
      `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${schema} TO ${runtime}`,
    );
    await client.query(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ${schema} TO ${runtime}`);
    await client.query(
      `ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} IN SCHEMA ${schema} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${runtime}`,
    );
    await client.query(
      `ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} IN SCHEMA ${schema} GRANT USAGE, SELECT ON SEQUENCES TO ${runtime}`,
    );
  }
}

async function withClient(
  info: Omit<ConnectionInfo, "uri">,
  database: string,
  work: (client: pg.Client) => Promise<void>,
): Promise<void> {
  const client = new pg.Client({
    host: info.host,
    port: info.port,
    user: info.username,
    password: info.password,
    database,
    connectionTimeoutMillis: 5000,
  });
  await client.connect();
  try {
    await work(client);
  } finally {
    await client.end();
  }
}
