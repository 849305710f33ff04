import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DistributedApplication } from "@outbox/apphost";
import { startTestApp, stopTestApp } from "@outbox/apphost/testing";
import { drizzle } from "drizzle-orm/node-postgres";
import pg from "pg";
import { claimIdempotencyKey, purgeExpiredKeys } from "../sender-service/src/data/idempotency-keys.js";
import { sha256 } from "../sender-service/src/domain/idempotent-create.js";
import { createDatabase } from "../sender-service/src/data/db.js";
import { count, eventually } from "./support/receiver.js";
import { appliedCounts, type CreatedEntity, waitForApplied, waitForSettled } from "./support/system.js";

// POST /api/EntityItems with an Idempotency-Key, against the real sender, its database and the
// receiver at the end of the path.
let app: DistributedApplication;
let sender: string;
let senderDb: string;

beforeAll(async () => {
  app = await startTestApp();
  sender = app.getEndpoint("sender");
  senderDb = app.getConnectionString("senderdb");
});

afterAll(async () => {
  await stopTestApp(app);
});

async function post(key: string | undefined, body: unknown) {
  const response = await fetch(`${sender}/api/EntityItems`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key !== undefined ? { "idempotency-key": key } : {}) },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: JSON.parse(text) as unknown };
}

describe("Idempotency-Key", () => {
  it("answers a retry with the original response and creates one entity and one message", async () => {
    const key = `order-${randomUUID()}`;
    const first = await post(key, { name: "idempotent", description: "once" });
    expect(first.status).toBe(201);
    const entity = first.body as CreatedEntity;
    const retry = await post(key, { name: "idempotent", description: "once" });
    expect(retry.status).toBe(201);
    expect(retry.body).toEqual(first.body);
    expect(retry.headers.get("location")).toBe(first.headers.get("location"));
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    expect(first.headers.get("idempotent-replayed")).toBeNull();

    expect(await count(senderDb, "SELECT count(*) FROM entity_items WHERE name = 'idempotent'")).toBe(1);
    expect(
      await count(senderDb, "SELECT count(*) FROM outbox_messages WHERE aggregate_id = $1", [entity.id]),
    ).toBe(1);
    expect((await waitForApplied(app, [entity.id])).get(entity.id)).toBe(1);
  });

  it("replays the response body byte for byte (not re-serialised from jsonb)", async () => {
    const key = `bytes-${randomUUID()}`;
    const send = () =>
      fetch(`${sender}/api/EntityItems`, {
        method: "POST",
        headers: { "content-type": "application/json", "idempotency-key": key },
        body: JSON.stringify({ name: "byte identical", description: "keys in API order" }),
      });
    const first = await send();
    const firstText = await first.text();
    const retry = await send();
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    expect(await retry.text()).toBe(firstText);
    expect(retry.headers.get("content-type")).toBe(first.headers.get("content-type"));
  });

  it("creates one entity when the same key arrives concurrently", async () => {
    const key = randomUUID();
    const responses = await Promise.all(
      Array.from({ length: 10 }, () => post(key, { name: "concurrent-key", description: null })),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(10).fill(201));
    const ids = new Set(responses.map((r) => (r.body as CreatedEntity).id));
    expect(ids.size).toBe(1);
    expect(responses.filter((r) => r.headers.get("idempotent-replayed") === "true")).toHaveLength(9);
    expect(await count(senderDb, "SELECT count(*) FROM entity_items WHERE name = 'concurrent-key'")).toBe(1);
    const [id] = [...ids];
    await waitForApplied(app, [id!]);
    await waitForSettled(app, [id!]);
    expect((await appliedCounts(app, [id!])).get(id!)).toBe(1);
  });

  it("refuses the same key with another body (422) and lets different keys create", async () => {
    const key = randomUUID();
    expect((await post(key, { name: "first body" })).status).toBe(201);
    const other = await post(key, { name: "second body" });
    expect(other.status).toBe(422);
    expect(other.headers.get("content-type")).toMatch(/application\/problem\+json/);
    expect(await count(senderDb, "SELECT count(*) FROM entity_items WHERE name = 'second body'")).toBe(0);
    expect((await post(randomUUID(), { name: "second body" })).status).toBe(201);
  });

  it("validates the key: 1..200 printable characters", async () => {
    expect((await post("x".repeat(201), { name: "too long key" })).status).toBe(400);
    const withoutKey = await post(undefined, { name: "no key" });
    expect(withoutKey.status).toBe(201);
  });

  it("takes a key over once it expired, and the purge deletes expired keys", async () => {
    const key = randomUUID();
    const first = await post(key, { name: "expiring" });
    expect(first.status).toBe(201);
    // Expire it (the TTL is 24 h by default; the purge runs every minute).
    await count(
      senderDb,
      "UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = $1 RETURNING 1",
      [key],
    );
    const again = await post(key, { name: "expiring" });
    expect(again.status).toBe(201);
    expect((again.body as CreatedEntity).id).not.toBe((first.body as CreatedEntity).id);
    expect(again.headers.get("idempotent-replayed")).toBeNull();

    await count(
      senderDb,
      "UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = $1 RETURNING 1",
      [key],
    );
    const pool = new pg.Pool({ connectionString: senderDb, max: 1 });
    try {
      expect(await purgeExpiredKeys(drizzle({ client: pool }), 1000)).toBeGreaterThanOrEqual(1);
    } finally {
      await pool.end();
    }
    expect(await count(senderDb, "SELECT count(*) FROM idempotency_keys WHERE key = $1", [key])).toBe(0);
  });

  // Review defect 8: the purge picked an expired key, then waited on its row lock while a new
  // request took the key over; after the wait it deleted the now-live key, so a retry of that new
  // request created a second entity.
  it("never purges a key that a new request took over while the purge waited on its lock", async () => {
    const key = `race-${randomUUID()}`;
    expect((await post(key, { name: "purge race" })).status).toBe(201);
    await count(
      senderDb,
      "UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = $1 RETURNING 1",
      [key],
    );
    const owner = new pg.Pool({ connectionString: senderDb, max: 1, application_name: "race-owner" });
    const purger = new pg.Pool({ connectionString: senderDb, max: 1, application_name: "race-purger" });
    try {
      let purged: Promise<number> | undefined;
      await createDatabase(owner).transaction(async (tx) => {
        // The new request takes the expired key over (row locked until this transaction commits).
        expect(await claimIdempotencyKey(tx, key, sha256("new request"), 60_000)).toBe(true);
        purged = purgeExpiredKeys(drizzle({ client: purger }), 1000);
        // The precondition: the purge has selected the key and is waiting for our row lock.
        await eventually("the purge waiting on the key's row lock", async () => {
          const waiting = await count(
            senderDb,
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'race-purger' AND wait_event_type = 'Lock'",
          );
          return waiting === 1 ? true : undefined;
        });
      });
      await purged;
      expect(await count(senderDb, "SELECT count(*) FROM idempotency_keys WHERE key = $1", [key])).toBe(1);
    } finally {
      await owner.end();
      await purger.end();
    }
  });

  it("documents the header in the OpenAPI document", async () => {
    const doc = (await (await fetch(`${sender}/openapi.json`)).json()) as {
      paths: Record<
        string,
        { post?: { parameters?: Array<{ name: string; in: string }>; responses: object } }
      >;
    };
    const operation = doc.paths["/api/EntityItems"]?.post;
    expect(operation?.parameters?.some((p) => p.name === "idempotency-key" && p.in === "header")).toBe(true);
    expect(Object.keys(operation?.responses ?? {})).toContain("422");
  });
});
