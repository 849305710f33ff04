import { randomUUID } from "node:crypto";
import { drizzle } from "drizzle-orm/node-postgres";
import { migrate as drizzleMigrate } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp, type DistributedApplication } from "@outbox/apphost";
import { startTestApp, stopTestApp } from "@outbox/apphost/testing";
import { AmqpConnection, AmqpPublisher, createOutbox, type Outbox } from "@outbox/messaging";
import { SchemaNotMigratedError } from "@outbox/service-defaults";
import { assertOutboxMigrated, migrationsFolder } from "../sender-service/src/data/migrate.js";
import { exactlyOnceReport, logger, QueueDrain } from "./support/relay-harness.js";

// @outbox/messaging's outbox on real PostgreSQL and Artemis: its SQL migration against the tables
// the sender's drizzle migrations made, a custom schema and prefix side by side, and
// enqueue → relay → queue through the public API.
const QUEUE = "library-outbox";

function model() {
  const app = createApp({ name: "outbox-library" });
  const postgres = app.addPostgres("library-pg");
  postgres.addDatabase("drizzledb");
  postgres.addDatabase("librarydb");
  app.addArtemis("broker").withDuplicateIdCache(10_000).addQueue(QUEUE);
  return app;
}

let app: DistributedApplication | undefined;
const pools: pg.Pool[] = [];
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  app = await startTestApp({ model: model() });
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  for (const pool of pools) await pool.end().catch(() => undefined);
  await stopTestApp(app);
});

/** The owner's pool (who migrates; an app that migrates itself connects so), or the runtime role's. */
function poolFor(database: string, role: "owner" | "runtime" = "owner"): pg.Pool {
  if (app === undefined) throw new Error("the application did not start");
  const connectionString =
    role === "owner" ? app.getMigrationsConnectionString(database) : app.getConnectionString(database);
  const pool = new pg.Pool({ connectionString, max: 4 });
  pools.push(pool);
  return pool;
}

/**
 * The outbox objects of one schema and prefix as PostgreSQL describes them — columns, defaults,
 * indexes, constraints, triggers and the trigger function — with the schema and prefix taken out
 * of every name, so that two installations compare equal when they differ only in those.
 */
async function outboxStructure(
  db: pg.Pool,
  schema: string,
  prefix: string,
): Promise<Record<string, unknown>> {
  const tables = [`${prefix}outbox_messages`, `${prefix}outbox_attempts`];
  const plain = (text: string | null): string | null =>
    text === null
      ? null
      : text
          .replaceAll(`${schema}.`, "")
          .replaceAll(`"${schema}".`, "")
          .replaceAll(`${prefix}outbox_`, "outbox_");
  const rows = async (sql: string): Promise<Array<Record<string, unknown>>> =>
    (await db.query(sql, [schema, tables])).rows.map((row: Record<string, unknown>) =>
      Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === "string" ? plain(v) : v])),
    );
  return {
    columns: await rows(`
      select table_name, column_name, ordinal_position, data_type, is_nullable, column_default,
             character_maximum_length, numeric_precision
        from information_schema.columns
       where table_schema = $1 and table_name = any($2) order by table_name, ordinal_position`),
    indexes: await rows(`
      select tablename, indexname, indexdef from pg_indexes
       where schemaname = $1 and tablename = any($2) order by tablename, indexname`),
    constraints: await rows(`
      select c.relname as table_name, k.conname, k.contype, pg_get_constraintdef(k.oid) as definition
        from pg_constraint k join pg_class c on c.oid = k.conrelid join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = $1 and c.relname = any($2) order by c.relname, k.conname`),
    triggers: await rows(`
      select c.relname as table_name, t.tgname, pg_get_triggerdef(t.oid) as definition
        from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = $1 and c.relname = any($2) and not t.tgisinternal order by t.tgname`),
    functions: await rows(`
      select p.proname, pg_get_function_result(p.oid) as result, l.lanname, p.prosrc
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace join pg_language l on l.oid = p.prolang
       where n.nspname = $1 and p.proname like '%outbox_mark_possibly_sent' and cardinality($2::text[]) = 2`),
    sequences: await rows(`
      select sequence_name, data_type, start_value, increment from information_schema.sequences
       where sequence_schema = $1 and sequence_name like any(array(select t || '%' from unnest($2::text[]) t))
       order by sequence_name`),
  };
}

describe("the outbox's SQL migration", () => {
  let drizzlePool: pg.Pool;
  let libraryPool: pg.Pool;
  const defaults = createOutbox();

  beforeAll(async () => {
    drizzlePool = poolFor("drizzledb");
    libraryPool = poolFor("librarydb");
    // What the sender's drizzle migrations 0000–0006 made, before the library existed.
    const client = await drizzlePool.connect();
    try {
      await drizzleMigrate(drizzle({ client }), { migrationsFolder });
    } finally {
      client.release();
    }
  });

  it("creates on an empty database exactly the tables the sender's drizzle migrations created", async () => {
    expect(await defaults.migrationStatus(libraryPool)).toEqual({
      applied: [],
      pending: ["0001_outbox.sql"],
      changed: [],
    });
    expect(await defaults.migrate(libraryPool)).toEqual({ applied: ["0001_outbox.sql"] });
    const fromDrizzle = await outboxStructure(drizzlePool, "public", "");
    // Precondition: the comparison sees the objects (an empty description would compare equal).
    expect((fromDrizzle.columns as unknown[]).length).toBe(30);
    expect((fromDrizzle.indexes as unknown[]).length).toBe(7);
    expect((fromDrizzle.triggers as unknown[]).length).toBe(1);
    expect((fromDrizzle.functions as unknown[]).length).toBe(1);
    expect(await outboxStructure(libraryPool, "public", "")).toEqual(fromDrizzle);
  });

  it("applies on top of the drizzle-made tables, changing nothing, and the sender's start-up check follows it", async () => {
    const before = await outboxStructure(drizzlePool, "public", "");
    // The sender's start-up check, with the runtime role, notices the library migration is missing...
    const runtime = poolFor("drizzledb", "runtime");
    await expect(assertOutboxMigrated(runtime)).rejects.toThrow(SchemaNotMigratedError);
    await expect(assertOutboxMigrated(runtime)).rejects.toThrow(
      /0001_outbox\.sql of @outbox\/messaging are pending/,
    );
    expect(await defaults.migrate(drizzlePool)).toEqual({ applied: ["0001_outbox.sql"] });
    // ...and is satisfied once it is applied (the runtime role may read the journal).
    await expect(assertOutboxMigrated(runtime)).resolves.toBeUndefined();
    expect(await outboxStructure(drizzlePool, "public", "")).toEqual(before);
  });

  it("installs a custom schema and prefix side by side, equal but for the names", async () => {
    const custom = createOutbox({ schema: "notes_app", tablePrefix: "n_" });
    // Two starters at once: the advisory lock serialises them, the file is applied once.
    const results = await Promise.all([custom.migrate(libraryPool), custom.migrate(libraryPool)]);
    expect(results.map((r) => r.applied).sort()).toEqual([[], ["0001_outbox.sql"]]);
    const names = await libraryPool.query<{ name: string }>(
      `select table_schema || '.' || table_name as name from information_schema.tables
        where table_schema in ('public', 'notes_app') order by 1`,
    );
    expect(names.rows.map((r) => r.name)).toEqual([
      "notes_app.n_messaging_migrations",
      "notes_app.n_outbox_attempts",
      "notes_app.n_outbox_messages",
      "public.messaging_migrations",
      "public.outbox_attempts",
      "public.outbox_messages",
    ]);
    expect(await outboxStructure(libraryPool, "notes_app", "n_")).toEqual(
      await outboxStructure(libraryPool, "public", ""),
    );
    // The trigger of the custom table is its own: a reclaimed row is marked possibly sent there.
    const id = randomUUID();
    const client = await libraryPool.connect();
    try {
      await client.query("BEGIN");
      await custom.enqueue(client, { id, type: "T", key: "k", destination: "d", payload: {} });
      await client.query("COMMIT");
    } finally {
      client.release();
    }
    await libraryPool.query(
      `update notes_app.n_outbox_messages set claim_token = gen_random_uuid() where id = $1`,
      [id],
    );
    await libraryPool.query(
      `update notes_app.n_outbox_messages set claim_token = gen_random_uuid() where id = $1`,
      [id],
    );
    const row = await libraryPool.query(
      `select outcome_unknown from notes_app.n_outbox_messages where id = $1`,
      [id],
    );
    expect(row.rows[0]).toEqual({ outcome_unknown: true });
  });

  it("refuses to run when an applied file's checksum changed", async () => {
    const other = createOutbox({ schema: "changed_app" });
    await other.migrate(libraryPool);
    await libraryPool.query(
      `update changed_app.messaging_migrations set checksum = 'edited' where part = 'outbox'`,
    );
    await expect(other.migrate(libraryPool)).rejects.toThrow(
      /the outbox migration\(s\) 0001_outbox\.sql in schema changed_app were applied with a different checksum/,
    );
    expect((await other.migrationStatus(libraryPool)).changed).toEqual(["0001_outbox.sql"]);
  });

  it("renders the SQL for other tools with the names substituted", () => {
    const [file] = createOutbox({ schema: "notes_app", tablePrefix: "n_" }).migrationSql();
    expect(file?.name).toBe("0001_outbox.sql");
    expect(file?.sql).toContain('CREATE TABLE IF NOT EXISTS "notes_app"."n_outbox_messages"');
    expect(file?.sql).not.toContain("${");
  });
});

describe("createOutbox end to end (public API)", () => {
  let outbox: Outbox;
  let pool: pg.Pool;

  beforeAll(async () => {
    pool = poolFor("librarydb");
    outbox = createOutbox({ schema: "e2e_app", tablePrefix: "e2e_" });
    expect((await outbox.migrate(pool)).applied).toEqual(["0001_outbox.sql"]);
    // Migrating again is a no-op.
    expect((await outbox.migrate(pool)).applied).toEqual([]);
  });

  it("publishes exactly the committed messages, once each, in order per key", async () => {
    if (app === undefined) throw new Error("the application did not start");
    const brokerUrl = app.getConnectionString("broker");
    const keys = ["a", "b", "c", "d"].map((k) => `${k}-${randomUUID().slice(0, 8)}`);
    const committed: Array<{ id: string; key: string }> = [];

    // A pg client in its own transaction: committed.
    const client = await pool.connect();
    try {
      await client.query("BEGIN");
      for (let n = 0; n < 5; n++)
        for (const key of keys) {
          const id = await outbox.enqueue(client, {
            type: "NoteChanged",
            key,
            destination: QUEUE,
            payload: { n },
          });
          committed.push({ id, key });
        }
      await client.query("COMMIT");
      // Rolled back: never published.
      await client.query("BEGIN");
      for (const key of keys)
        await outbox.enqueue(client, { type: "NoteChanged", key, destination: QUEUE, payload: { n: -1 } });
      await client.query("ROLLBACK");
    } finally {
      client.release();
    }
    // A drizzle transaction: committed.
    await drizzle({ client: pool }).transaction(async (tx) => {
      for (const key of keys) {
        const id = await outbox.enqueue(tx, {
          type: "NoteChanged",
          key,
          destination: QUEUE,
          payload: { n: 5 },
        });
        committed.push({ id, key });
      }
    });
    const counts = await pool.query<{ status: string; n: number }>(
      "select status, count(*)::int as n from e2e_app.e2e_outbox_messages group by status",
    );
    // Precondition: only the committed rows exist, none published yet.
    expect(counts.rows).toEqual([{ status: "pending", n: committed.length }]);

    const drain = new QueueDrain(brokerUrl, QUEUE);
    cleanups.push(() => drain.close());
    const amqp = new AmqpConnection({ url: brokerUrl, containerId: "library-relay", logger });
    cleanups.push(() => amqp.close());
    const publisher = new AmqpPublisher({
      amqp,
      address: QUEUE,
      linkName: "outbox-library-relay",
      sendTimeoutMs: 5_000,
      logger,
    });
    const relay = outbox.startRelay({
      pool,
      publisher,
      destination: QUEUE,
      owner: "library-relay",
      batchSize: 7,
      pollIntervalMs: 500,
      logger,
    });
    cleanups.push(() => relay.stop());
    amqp.open();

    const received = await drain.waitFor(committed.length, 60_000);
    expect(exactlyOnceReport(committed, received)).toEqual({ missing: [], duplicates: [], unexpected: [] });
    for (const key of keys) {
      expect(received.filter((m) => m.aggregateId === key).map((m) => m.id)).toEqual(
        committed.filter((c) => c.key === key).map((c) => c.id),
      );
    }
    const after = await pool.query<{ status: string; n: number }>(
      "select status, count(*)::int as n from e2e_app.e2e_outbox_messages group by status",
    );
    expect(after.rows).toEqual([{ status: "published", n: committed.length }]);
    expect(relay.state()).toMatchObject({ published: committed.length, dead: 0, listening: true });
    const health = await relay.healthCheck()();
    expect(health.status).toBe("healthy");
    await relay.stop();
    expect((await relay.healthCheck()()).status).toBe("unhealthy");
  });
});
