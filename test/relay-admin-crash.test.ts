import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DistributedApplication } from "@outbox/apphost";
import { startTestApp, stopTestApp } from "@outbox/apphost/testing";
import { adminFetch, useAdminTokens } from "./support/admin.js";
import type pg from "pg";
import type { Database } from "../sender-service/src/data/db.js";
import {
  delay,
  exactlyOnceReport,
  insertRows,
  openDatabase,
  QueueDrain,
  relayTestModel,
  startRelay,
  type RelayHandle,
} from "./support/relay-harness.js";

let app: DistributedApplication;
let sender: string;
let databaseUrl: string;
let brokerUrl: string;
let db: Database;
let pool: pg.Pool;
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  app = await startTestApp({ model: relayTestModel() });
  sender = app.getEndpoint("sender");
  useAdminTokens(app);
  databaseUrl = app.getConnectionString("senderdb");
  brokerUrl = app.getConnectionString("broker");
  ({ db, pool } = openDatabase(databaseUrl));
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await pool?.end();
  await stopTestApp(app);
});

async function count(where: ReturnType<typeof sql>): Promise<number> {
  const [row] = (
    await db.execute<{ n: number }>(sql`select count(*)::int as n from outbox_messages where ${where}`)
  ).rows;
  return row?.n ?? 0;
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(100);
  }
}

describe("SIGKILL a relay mid-batch", () => {
  it("loses nothing and puts no duplicate on the queue", async () => {
    const destination = "relay-test-12";
    const rows = await insertRows(db, destination, 300, 2);
    const queue = new QueueDrain(brokerUrl, destination);
    cleanups.push(() => queue.close());

    // The victim sends a whole batch at once but hears each outcome 3 s late: when it dies, the
    // broker holds messages the outbox still has as pending and locked by the victim.
    const script = path.join(path.dirname(fileURLToPath(import.meta.url)), "support/relay-process.ts");
    const victim: ChildProcess = spawn(
      process.execPath,
      ["--conditions=outbox-source", "--import", "tsx", script],
      {
        env: {
          ...process.env,
          RELAY_DATABASE_URL: databaseUrl,
          RELAY_BROKER_URL: brokerUrl,
          RELAY_DESTINATION: destination,
          RELAY_BATCH_SIZE: "200",
          RELAY_LEASE_MS: "8000",
          RELAY_OUTCOME_DELAY_MS: "3000",
        },
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    cleanups.push(() => {
      if (victim.exitCode === null) victim.kill("SIGKILL");
    });
    await waitUntil(
      "the victim's batch on the broker",
      () => Promise.resolve(queue.received.length >= 50),
      60_000,
    );
    const claimedByVictim = await count(
      sql`destination = ${destination} and status = 'pending' and locked_by like 'crash-relay-%'`,
    );
    victim.kill("SIGKILL");
    await new Promise((resolve) => victim.once("exit", resolve));
    expect(claimedByVictim, "killed between send and mark").toBeGreaterThan(0);

    const survivor: RelayHandle = startRelay({ databaseUrl, brokerUrl, destination, batchSize: 100 });
    cleanups.push(() => survivor.stop());
    // The victim's rows come back when its lease runs out; their resends are dropped by the broker.
    await waitUntil(
      "everything published",
      async () => (await count(sql`destination = ${destination} and status = 'published'`)) === rows.length,
      120_000,
    );
    const received = await queue.waitFor(rows.length, 30_000, 3_000);
    expect(exactlyOnceReport(rows, received)).toEqual({ missing: [], duplicates: [], unexpected: [] });
  });
});

describe("admin API", () => {
  async function call(method: string, url: string): Promise<{ status: number; body: unknown }> {
    const response = await adminFetch(`${sender}${url}`, { method });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as unknown) : undefined };
  }

  it("lists, shows history, retries, replays and deletes dead messages, and counts", async () => {
    // No relay serves this address: rows stay where the admin API puts them.
    const destination = `relay-test-admin-${randomUUID().slice(0, 6)}`;
    const inserted = await db.execute<{ id: string }>(sql`
      insert into outbox_messages (id, aggregate_type, aggregate_id, type, version, destination, payload,
                                   status, attempts, last_error)
      select gen_random_uuid(), 'Test', g::text, 'TestEvent', 1, ${destination}, '{}'::jsonb, 'dead', 10, 'rejected by broker: x'
        from generate_series(1, 5) g
      returning id`);
    const [first, second] = inserted.rows.map((r) => r.id);
    await db.execute(sql`insert into outbox_attempts (message_id, outcome, attempts, error, actor)
                         values (${first!}, 'dead', 10, 'rejected by broker: x', 'relay-1')`);

    const list = await call("GET", "/api/outbox/messages?status=dead&pageSize=200");
    expect(list.status).toBe(200);
    const page = list.body as { items: Array<{ id: string; status: string }>; total: number };
    expect(page.total).toBeGreaterThanOrEqual(5);
    expect(page.items.filter((m) => inserted.rows.some((r) => r.id === m.id))).toHaveLength(5);

    const one = await call("GET", `/api/outbox/messages/${first!}`);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({
      id: first,
      status: "dead",
      attempts: 10,
      lastError: "rejected by broker: x",
      history: [{ outcome: "dead", attempts: 10, actor: "relay-1" }],
    });
    expect((await call("GET", `/api/outbox/messages/${randomUUID()}`)).status).toBe(404);

    expect((await call("POST", `/api/outbox/messages/${first!}/retry`)).status).toBe(204);
    expect((await call("POST", `/api/outbox/messages/${first!}/retry`)).status).toBe(409);
    const retried = (await call("GET", `/api/outbox/messages/${first!}`)).body as {
      status: string;
      attempts: number;
      history: Array<{ outcome: string }>;
    };
    expect(retried.status).toBe("pending");
    expect(retried.attempts).toBe(0);
    expect(retried.history.map((h) => h.outcome)).toEqual(["dead", "retried-by-operator"]);

    // Review defect 5: only dead rows can be deleted. A pending row (here: just retried) may
    // already be on the broker, and deleting it would unblock its aggregate's next row: 409.
    expect((await call("DELETE", `/api/outbox/messages/${first!}`)).status).toBe(409);
    expect(await count(sql`id = ${first!}`)).toBe(1);
    // Issue 18: a dead row in its aggregate's order cannot be deleted either: the receivers would
    // refuse every later message of the aggregate as a gap. The answer says to retry it instead.
    const gap = await call("DELETE", `/api/outbox/messages/${second!}`);
    expect(gap.status).toBe(409);
    expect(gap.body).toMatchObject({
      title: "Deleting would leave a version gap",
      retry: `/api/outbox/messages/${second!}/retry`,
    });
    expect(await count(sql`id = ${second!} and status = 'dead'`)).toBe(1);
    // A dead row sent outside its aggregate's order (scheduled or prioritised) holds nothing back.
    const [unordered] = (
      await db.execute<{ id: string }>(sql`
        insert into outbox_messages (id, aggregate_type, aggregate_id, type, version, destination, payload,
                                     status, attempts, ordered)
        values (gen_random_uuid(), 'Test', 'u', 'TestEvent', 1, ${destination}, '{}'::jsonb, 'dead', 10, false)
        returning id`)
    ).rows;
    expect((await call("DELETE", `/api/outbox/messages/${unordered!.id}`)).status).toBe(204);
    expect((await call("DELETE", `/api/outbox/messages/${unordered!.id}`)).status).toBe(404);
    const [publishedRow] = (
      await db.execute<{ id: string }>(sql`
        insert into outbox_messages (id, aggregate_type, aggregate_id, type, version, destination, payload, status, published_at)
        values (gen_random_uuid(), 'Test', 'p', 'TestEvent', 1, ${destination}, '{}'::jsonb, 'published', now()) returning id`)
    ).rows;
    expect((await call("DELETE", `/api/outbox/messages/${publishedRow!.id}`)).status).toBe(409);
    expect((await call("POST", `/api/outbox/messages/${publishedRow!.id}/retry`)).status).toBe(409);

    const blocked = await call("GET", "/api/outbox/blocked?pageSize=200");
    expect(blocked.status).toBe(200);
    const mine = (blocked.body as { items: Array<{ destination: string; waiting: number }> }).items.filter(
      (b) => b.destination === destination,
    );
    expect(mine).toHaveLength(4); // the four aggregates still dead (first was retried)
    expect(mine.every((b) => b.waiting === 0)).toBe(true);

    const replay = await call("POST", "/api/outbox/dead/replay?limit=2");
    expect(replay).toEqual({ status: 200, body: { replayed: 2 } });
    expect(await count(sql`destination = ${destination} and status = 'dead'`)).toBe(2);

    const stats = await call("GET", "/api/outbox/stats");
    expect(stats.status).toBe(200);
    const body = stats.body as {
      counts: Record<string, number>;
      blockedAggregates: number;
      oldestPendingAgeMs: number | null;
    };
    expect(body.counts.dead).toBeGreaterThanOrEqual(2);
    expect(body.blockedAggregates).toBeGreaterThanOrEqual(2);
    expect(body.counts.pending).toBeGreaterThanOrEqual(2);
    expect(body.oldestPendingAgeMs).not.toBeNull();

    const openapi = (await call("GET", "/openapi.json")).body as { paths: Record<string, unknown> };
    for (const p of [
      "/api/outbox/messages",
      "/api/outbox/messages/{id}",
      "/api/outbox/messages/{id}/retry",
      "/api/outbox/dead/replay",
      "/api/outbox/blocked",
      "/api/outbox/stats",
    ])
      expect(Object.keys(openapi.paths)).toContain(p);

    await db.execute(sql`delete from outbox_messages where destination = ${destination}`);
  });
});
