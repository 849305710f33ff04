import { randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { drizzle } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createApp, type DistributedApplication } from "@outbox/apphost";
import { startTestApp, stopTestApp } from "@outbox/apphost/testing";
import type pg from "pg";
import { PgAuditStore } from "../receiver-service/src/data/audit-store.js";
import { createDatabase, createPool, runMigrations } from "../receiver-service/src/data/db.js";
import { VersionGapError } from "../receiver-service/src/domain/apply-entity-item-updated.js";
import type { IncomingEvent } from "../receiver-service/src/domain/events.js";
import { recordAuditEntries, recordAuditEntry } from "../receiver-service/src/domain/record-audit-entry.js";
import { eventually } from "./support/receiver.js";

// The audit group's log against a real PostgreSQL with the receiver's migrations: one row per
// message, each aggregate's events in version order, whatever order they arrive in.
let app: DistributedApplication;
/** The receiver's runtime role (what the service connects as). */
let pool: pg.Pool;
/** The database owner (migrations; setting up and inspecting rows). */
let owner: pg.Pool;
let store: PgAuditStore;

beforeAll(async () => {
  const model = createApp();
  const server = model.addPostgres("receiver-pg");
  server.addDatabase("receiverdb");
  server.addDatabase("upgradedb");
  server.addDatabase("repairdb");
  app = await startTestApp({ model });
  owner = createPool({ url: app.getMigrationsConnectionString("receiverdb"), max: 2, onIdleError: () => {} });
  await runMigrations(owner);
  pool = createPool({ url: app.getConnectionString("receiverdb"), max: 6, onIdleError: () => {} });
  store = new PgAuditStore(createDatabase(pool));
});

afterAll(async () => {
  await pool?.end();
  await owner?.end();
  await stopTestApp(app);
});

beforeEach(async () => {
  await owner.query("truncate audit_log");
});

function created(aggregateId: string, messageId: string = randomUUID()): IncomingEvent {
  return {
    messageId,
    type: "EntityItemCreated",
    version: 1,
    aggregateId,
    payload: {
      item: { id: aggregateId, name: "item", description: null },
      createdAt: new Date().toISOString(),
    },
  };
}

function updated(aggregateId: string, version: number, messageId: string = randomUUID()): IncomingEvent {
  return {
    messageId,
    type: "EntityItemUpdated",
    version: 1,
    aggregateId,
    payload: {
      id: aggregateId,
      name: `v${version}`,
      description: null,
      version,
      updatedAt: new Date().toISOString(),
    },
  };
}

/** The aggregate versions logged for an aggregate, in the log's order. */
async function logged(aggregateId: string): Promise<number[]> {
  const result = await owner.query<{ aggregate_version: number }>(
    "select aggregate_version from audit_log where aggregate_id = $1 order by position",
    [aggregateId],
  );
  return result.rows.map((r) => r.aggregate_version);
}

describe("audit log order", () => {
  it("refuses an update that overtook its predecessor, and logs it once the predecessor is in", async () => {
    const id = randomUUID();
    const v3 = updated(id, 3);
    expect(await recordAuditEntry(store, created(id))).toBe("applied");
    await expect(recordAuditEntry(store, v3)).rejects.toThrow(VersionGapError);
    await expect(recordAuditEntry(store, v3)).rejects.toThrow(/version gap: .* is at 1, the update brings 3/);
    expect(await logged(id)).toEqual([1]);
    // An update before the creation is a gap too.
    const other = randomUUID();
    await expect(recordAuditEntry(store, updated(other, 2))).rejects.toThrow(
      /no version \(not received yet\)/,
    );

    expect(await recordAuditEntry(store, updated(id, 2))).toBe("applied");
    expect(await recordAuditEntry(store, v3)).toBe("applied");
    expect(await logged(id)).toEqual([1, 2, 3]);
    expect(await logged(other)).toEqual([]);
  });

  it("logs a batch in arrival order; a gap defers only its own event, the neighbours are logged", async () => {
    const a = randomUUID();
    const b = randomUUID();
    expect(await recordAuditEntries(store, [created(a), updated(a, 2), created(b), updated(a, 3)])).toEqual([
      "applied",
      "applied",
      "applied",
      "applied",
    ]);
    expect(await logged(a)).toEqual([1, 2, 3]);

    const c = randomUUID();
    const results = await recordAuditEntries(store, [created(c), updated(b, 3), updated(b, 2)]);
    // b's v3 overtook v2: deferred (the consumer retries it alone, without a fallback for the
    // batch); c's creation and b's v2 behind it are logged in the same transaction.
    expect(results[0]).toBe("applied");
    expect(results[1]).toBeInstanceOf(VersionGapError);
    expect(results[2]).toBe("applied");
    expect(await logged(c)).toEqual([1]);
    expect(await logged(b)).toEqual([1, 2]);
    // A single event still throws its gap (a transient failure for the consumer).
    await expect(recordAuditEntry(store, updated(b, 4))).rejects.toThrow(VersionGapError);
  });

  it("tells duplicates apart: the same message again, and the same version under another message id", async () => {
    const id = randomUUID();
    const first = created(id);
    expect(await recordAuditEntries(store, [first, first])).toEqual(["applied", "duplicate"]);
    expect(await recordAuditEntry(store, first)).toBe("duplicate");
    // The same change sent twice (another message id, a version already logged): not logged again.
    expect(await recordAuditEntry(store, created(id))).toBe("already-applied");
    const count = await owner.query<{ n: string }>(
      "select count(*) as n from audit_log where aggregate_id = $1",
      [id],
    );
    expect(Number(count.rows[0]?.n)).toBe(1);
  });

  it("skips, without an error, a version that a concurrent transaction logs first", async () => {
    const id = randomUUID();
    expect(await recordAuditEntry(store, created(id))).toBe("applied");
    // Another instance's transaction holds version 2 of the aggregate, not committed yet.
    const rival = await owner.connect();
    try {
      await rival.query("begin");
      await rival.query(
        `insert into audit_log (message_id, type, version, aggregate_id, aggregate_version, payload)
         values ($1, 'EntityItemUpdated', 1, $2, 2, '{}')`,
        [randomUUID(), id],
      );
      const ours = recordAuditEntry(store, updated(id, 2));
      // Precondition: ours saw version 1 as the latest and now waits on the rival's row.
      await eventually("our insert to wait for the rival's transaction", async () => {
        // pg_locks, not pg_stat_activity: another role's activity is hidden from the owner.
        const waiting = await owner.query<{ n: string }>(
          "select count(*) as n from pg_locks where not granted and locktype = 'transactionid'",
        );
        return Number(waiting.rows[0]?.n) === 1 ? true : undefined;
      });
      await rival.query("commit");
      expect(await ours).toBe("duplicate");
    } finally {
      rival.release();
    }
    expect(await logged(id)).toEqual([1, 2]);
  });
});

/** The receiver's migrations before `tag`, in a scratch copy of the folder, run as the owner. */
async function migrateUpTo(pool: pg.Pool, tag: string): Promise<void> {
  const folder = fileURLToPath(new URL("../receiver-service/drizzle", import.meta.url));
  const scratch = await fs.mkdtemp(path.join(os.tmpdir(), "audit-upgrade-"));
  try {
    await fs.cp(folder, scratch, { recursive: true });
    const journalPath = path.join(scratch, "meta", "_journal.json");
    const journal = JSON.parse(await fs.readFile(journalPath, "utf8")) as { entries: Array<{ tag: string }> };
    const upTo = journal.entries.findIndex((e) => e.tag === tag);
    expect(upTo).toBeGreaterThan(0);
    journal.entries = journal.entries.slice(0, upTo);
    await fs.writeFile(journalPath, JSON.stringify(journal));
    await migrate(drizzle(pool), { migrationsFolder: scratch });
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

async function logOrder(pool: pg.Pool): Promise<Array<{ message_id: string; aggregate_version: number }>> {
  const rows = await pool.query<{ message_id: string; aggregate_version: number }>(
    "select message_id, aggregate_version from audit_log order by position",
  );
  return rows.rows;
}

describe("upgrading an audit log written before the order check", () => {
  it("orders each aggregate's history by version, keeps one row per version, and continues the numbering", async () => {
    const upgradeOwner = createPool({
      url: app.getMigrationsConnectionString("upgradedb"),
      max: 1,
      onIdleError: () => {},
    });
    try {
      await migrateUpTo(upgradeOwner, "0005_audit_order");
      const a = randomUUID();
      const b = randomUUID();
      // Recorded out of order (a's v3 before its v2, as an overtaking redelivery could before the
      // order check), a's v2 logged twice under two message ids, and b's rows in between.
      const rows = [
        { message: "a-created", id: a, type: "EntityItemCreated", payload: {}, at: "2026-01-01T00:00:01Z" },
        { message: "b-created", id: b, type: "EntityItemCreated", payload: {}, at: "2026-01-01T00:00:02Z" },
        {
          message: "a-v3",
          id: a,
          type: "EntityItemUpdated",
          payload: { version: 3 },
          at: "2026-01-01T00:00:03Z",
        },
        {
          message: "b-v2",
          id: b,
          type: "EntityItemUpdated",
          payload: { version: 2 },
          at: "2026-01-01T00:00:04Z",
        },
        {
          message: "a-v2",
          id: a,
          type: "EntityItemUpdated",
          payload: { version: 2 },
          at: "2026-01-01T00:00:05Z",
        },
        {
          message: "a-v2-again",
          id: a,
          type: "EntityItemUpdated",
          payload: { version: 2 },
          at: "2026-01-01T00:00:06Z",
        },
      ];
      for (const row of rows) {
        await upgradeOwner.query(
          `insert into audit_log (message_id, type, version, aggregate_id, payload, recorded_at)
           values ($1, $2, 1, $3, $4, $5)`,
          [row.message, row.type, row.id, row.payload, row.at],
        );
      }

      await runMigrations(upgradeOwner);
      // a keeps the slots it was recorded in (1, 3, 5), now in version order; the second copy of
      // its v2 (recorded later) is gone; b is untouched.
      expect(await logOrder(upgradeOwner)).toEqual([
        { message_id: "a-created", aggregate_version: 1 },
        { message_id: "b-created", aggregate_version: 1 },
        { message_id: "a-v2", aggregate_version: 2 },
        { message_id: "b-v2", aggregate_version: 2 },
        { message_id: "a-v3", aggregate_version: 3 },
      ]);
      // New rows continue after the old ones.
      const next = await upgradeOwner.query<{ position: string }>(
        `insert into audit_log (message_id, type, version, aggregate_id, aggregate_version, payload)
         values ('a-v4', 'EntityItemUpdated', 1, $1, 4, '{}') returning position`,
        [a],
      );
      expect(Number(next.rows[0]?.position)).toBe(6);
    } finally {
      await upgradeOwner.end();
    }
  });

  it("repairs a log that an earlier 0005 numbered in recorded order (0006), and leaves an ordered log alone", async () => {
    const repairOwner = createPool({
      url: app.getMigrationsConnectionString("repairdb"),
      max: 1,
      onIdleError: () => {},
    });
    try {
      await migrateUpTo(repairOwner, "0006_audit_order_repair");
      const a = randomUUID();
      const b = randomUUID();
      // What the earlier 0005 left: positions in recorded order, a's v3 before its v2.
      const rows: Array<[string, string, number, number]> = [
        ["a-created", a, 1, 1],
        ["b-created", b, 1, 2],
        ["a-v3", a, 3, 3],
        ["b-v2", b, 2, 4],
        ["a-v2", a, 2, 5],
      ];
      for (const [message, id, version, position] of rows) {
        await repairOwner.query(
          `insert into audit_log (message_id, type, version, aggregate_id, aggregate_version, position, payload)
           values ($1, 'EntityItemUpdated', 1, $2, $3, $4, '{}')`,
          [message, id, version, position],
        );
      }
      await repairOwner.query("select setval(pg_get_serial_sequence('audit_log', 'position'), 5)");
      // Precondition: the disorder is there before the repair.
      expect((await logOrder(repairOwner)).map((r) => r.message_id)).toEqual([
        "a-created",
        "b-created",
        "a-v3",
        "b-v2",
        "a-v2",
      ]);

      await runMigrations(repairOwner);
      const repaired = await logOrder(repairOwner);
      expect(repaired.map((r) => r.message_id)).toEqual(["a-created", "b-created", "a-v2", "b-v2", "a-v3"]);

      // Run on an ordered log, the repair changes nothing.
      const positions = async () =>
        (
          await repairOwner.query<{ message_id: string; position: string }>(
            "select message_id, position from audit_log order by message_id",
          )
        ).rows;
      const before = await positions();
      const sql = await fs.readFile(
        fileURLToPath(new URL("../receiver-service/drizzle/0006_audit_order_repair.sql", import.meta.url)),
        "utf8",
      );
      const updated = await repairOwner.query(sql);
      expect(updated.rowCount).toBe(0);
      expect(await positions()).toEqual(before);
    } finally {
      await repairOwner.end();
    }
  });
});
