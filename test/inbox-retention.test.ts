import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createApp, type DistributedApplication } from "@outbox/apphost";
import { startTestApp, stopTestApp } from "@outbox/apphost/testing";
import { createLogger } from "@outbox/service-defaults";
import type pg from "pg";
import type { InboxPurgeOptions, InboxPurgeResult } from "@outbox/messaging";
import { createPool, receiverInbox, runMigrations } from "../receiver-service/src/data/db.js";

// The receiver's inbox retention (@outbox/messaging's, on the receiver's inbox) against a real
// PostgreSQL with the receiver's migrations applied.
let app: DistributedApplication;
/** The receiver's runtime role (what the service connects as): the purge runs with it. */
let pool: pg.Pool;
/** The database owner (what migrations run as): sets up and inspects rows. */
let owner: pg.Pool;
const logger = createLogger("inbox-retention-test", "error");
const HOUR_MS = 3_600_000;

function purgeOldInboxRows(pool: pg.Pool, options: InboxPurgeOptions): Promise<InboxPurgeResult> {
  return receiverInbox.purge(pool, options);
}

beforeAll(async () => {
  const model = createApp();
  model.addPostgres("receiver-pg").addDatabase("receiverdb");
  app = await startTestApp({ model });
  owner = createPool({ url: app.getMigrationsConnectionString("receiverdb"), max: 2, onIdleError: () => {} });
  await runMigrations(owner);
  pool = createPool({ url: app.getConnectionString("receiverdb"), max: 6, onIdleError: () => {} });
});

afterAll(async () => {
  await pool?.end();
  await owner?.end();
  await stopTestApp(app);
});

beforeEach(async () => {
  await owner.query("truncate inbox, received_items, received_item_versions");
});

/** `count` inbox rows received `ageMs` ago, each with its effect row in received_items. */
async function insertInboxRows(count: number, ageMs: number, prefix: string): Promise<void> {
  await owner.query(
    `with rows as (
       insert into inbox (consumer_group, message_id, type, version, aggregate_id, received_at, processed_at)
       select 'receiver', $3 || '-' || g, 'EntityItemCreated', 1, gen_random_uuid()::text,
              now() - $2 * interval '1 millisecond', now() - $2 * interval '1 millisecond'
         from generate_series(1, $1::int) g
       returning message_id, aggregate_id)
     insert into received_items (id, message_id, name, source_created_at)
     select aggregate_id::uuid, message_id, 'item', now() from rows`,
    [count, ageMs, prefix],
  );
}

async function countInbox(prefix: string): Promise<number> {
  const result = await pool.query<{ n: string }>(
    "select count(*) as n from inbox where message_id like $1 || '-%'",
    [prefix],
  );
  return Number(result.rows[0]?.n);
}

async function countEffects(): Promise<number> {
  const result = await pool.query<{ n: string }>("select count(*) as n from received_items");
  return Number(result.rows[0]?.n);
}

describe("inbox retention", () => {
  it("deletes inbox rows older than the window in batches, keeps newer rows and every effect", async () => {
    await insertInboxRows(25, 2 * HOUR_MS, "old");
    await insertInboxRows(7, 60_000, "new");
    expect(await countInbox("old")).toBe(25);

    const result = await purgeOldInboxRows(pool, { olderThanMs: HOUR_MS, batchSize: 4, maxBatches: 100 });

    expect(result).toEqual({ deleted: 25, lockedOut: false });
    expect(await countInbox("old")).toBe(0);
    expect(await countInbox("new")).toBe(7);
    // The effect stays: only the duplicate memory is pruned.
    expect(await countEffects()).toBe(32);
  });

  it("stops a pass after maxBatches; the next pass continues", async () => {
    await insertInboxRows(10, 2 * HOUR_MS, "old");
    expect(await purgeOldInboxRows(pool, { olderThanMs: HOUR_MS, batchSize: 3, maxBatches: 2 })).toEqual({
      deleted: 6,
      lockedOut: false,
    });
    expect(await countInbox("old")).toBe(4);
    expect(await purgeOldInboxRows(pool, { olderThanMs: HOUR_MS, batchSize: 3, maxBatches: 2 })).toEqual({
      deleted: 4,
      lockedOut: false,
    });
  });

  it("lets one instance prune at a time (advisory lock)", async () => {
    await insertInboxRows(20, 2 * HOUR_MS, "old");

    // Another instance is in the middle of a pass: this one backs off and deletes nothing.
    const holder = await pool.connect();
    try {
      const held = await holder.query<{ locked: boolean }>(
        "select pg_try_advisory_lock(hashtext($1)) as locked",
        [receiverInbox.retentionLockKey],
      );
      expect(held.rows[0]?.locked).toBe(true);
      expect(await purgeOldInboxRows(pool, { olderThanMs: HOUR_MS, batchSize: 5, maxBatches: 100 })).toEqual({
        deleted: 0,
        lockedOut: true,
      });
      expect(await countInbox("old")).toBe(20);
      await holder.query("select pg_advisory_unlock(hashtext($1))", [receiverInbox.retentionLockKey]);
    } finally {
      holder.release();
    }

    // Two passes at once: never both prune; together they delete every old row exactly once.
    await insertInboxRows(2_000, 2 * HOUR_MS, "many");
    const passes = await Promise.all(
      [1, 2].map(() => purgeOldInboxRows(pool, { olderThanMs: HOUR_MS, batchSize: 1, maxBatches: 10_000 })),
    );
    const pruning = passes.filter((pass) => pass.deleted > 0);
    expect(pruning).toHaveLength(1);
    expect(passes.reduce((sum, pass) => sum + pass.deleted, 0)).toBe(2_020);
    // The lock was given back: a later pass runs (and finds nothing left).
    expect(await purgeOldInboxRows(pool, { olderThanMs: HOUR_MS, batchSize: 5, maxBatches: 100 })).toEqual({
      deleted: 0,
      lockedOut: false,
    });
  });

  it("ends a pass promptly at shutdown, between two batches", async () => {
    const total = 20_000;
    await insertInboxRows(total, 2 * HOUR_MS, "old");
    const job = receiverInbox.retentionJob(pool, {
      retentionMs: HOUR_MS,
      intervalMs: 60_000,
      batchSize: 1,
      maxBatchesPerPass: total,
      logger,
    });
    const pass = job.runOnce();
    // Wait for the pass to be under way (some rows gone), then stop as SIGTERM would.
    while ((await countInbox("old")) === total) await new Promise((resolve) => setImmediate(resolve));
    const stoppingAt = Date.now();
    await job.stop();
    const result = await pass;
    const stopMs = Date.now() - stoppingAt;

    expect(result.lockedOut).toBe(false);
    // Far from done: the pass was interrupted, not finished.
    expect(result.deleted).toBeGreaterThan(0);
    expect(result.deleted).toBeLessThan(total);
    expect(await countInbox("old")).toBe(total - result.deleted);
    // One single-row delete at most, well inside any SIGTERM budget.
    expect(stopMs).toBeLessThan(1_000);
    // The lock was released: the next pass (here: a fresh job) can run.
    expect(
      (await purgeOldInboxRows(pool, { olderThanMs: HOUR_MS, batchSize: 5_000, maxBatches: 10 })).lockedOut,
    ).toBe(false);
  });
});
