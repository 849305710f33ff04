import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DistributedApplication } from "@outbox/apphost";
import { startTestApp, stopTestApp } from "@outbox/apphost/testing";
import type pg from "pg";
import type { Database } from "../sender-service/src/data/db.js";
import type { OutgoingEnvelope, PublishOutcome } from "@outbox/messaging";
import { claimOutboxBatchQuery } from "../messaging/src/outbox/relay-statements.js";
import type { RelayPublisher } from "../messaging/src/outbox/relay.js";
import { OUTBOX_RETENTION_LOCK_KEY } from "../messaging/src/outbox/retention.js";
import { outbox } from "../sender-service/src/messaging/outbox.js";
import {
  delay,
  exactlyOnceReport,
  FULL_QUEUE,
  insertRows,
  openDatabase,
  outOfOrderAggregates,
  QueueDrain,
  relayTestModel,
  RELAY_TEST_QUEUES,
  startRelay,
  type RelayHandle,
} from "./support/relay-harness.js";

// Relays run in this process against the real PostgreSQL and Artemis of a started app, each test
// on its own address (the app's own relay only claims rows for "entity-items"). What reached the
// queue is counted by consuming it, i.e. on the broker side.
let app: DistributedApplication;
let databaseUrl: string;
let brokerUrl: string;
let db: Database;
let pool: pg.Pool;
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  app = await startTestApp({ model: relayTestModel() });
  databaseUrl = app.getConnectionString("senderdb");
  brokerUrl = app.getConnectionString("broker");
  ({ db, pool } = openDatabase(databaseUrl));
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await pool?.end();
  await stopTestApp(app);
});

const freeQueues = [...RELAY_TEST_QUEUES];
/** A declared queue of its own for each test (the broker refuses undeclared addresses). */
function address(): string {
  const queue = freeQueues.shift();
  if (queue === undefined) throw new Error("out of relay test queues");
  return queue;
}

function relay(opts: Parameters<typeof startRelay>[0]): RelayHandle {
  const handle = startRelay(opts);
  cleanups.push(() => handle.stop());
  return handle;
}

function drain(destination: string): QueueDrain {
  const d = new QueueDrain(brokerUrl, destination);
  cleanups.push(() => d.close());
  return d;
}

async function statuses(destination: string): Promise<Record<string, number>> {
  const rows = await db.execute<{ status: string; n: number }>(
    sql`select status, count(*)::int as n from outbox_messages where destination = ${destination} group by status`,
  );
  return Object.fromEntries(rows.rows.map((r) => [r.status, r.n]));
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(200);
  }
}

/** A publisher that injects failures before delegating to the real one. */
function flaky(
  real: RelayPublisher,
  decide: (message: OutgoingEnvelope) => "pass" | "reject" | "lose-before-send" | "lose-after-send",
): RelayPublisher {
  return {
    isSendable: () => real.isSendable(),
    waitUntilSendable: (ms, signal) => real.waitUntilSendable(ms, signal),
    state: () => real.state(),
    close: () => real.close(),
    publish: async (message): Promise<PublishOutcome> => {
      switch (decide(message)) {
        case "reject":
          return { kind: "rejected", reason: "amqp:internal-error: injected" };
        case "lose-before-send":
          return { kind: "unknown", reason: "injected: lost before send" };
        case "lose-after-send":
          // The broker has it, we never hear back: the resend must be dropped as a duplicate.
          await real.publish(message);
          return { kind: "unknown", reason: "injected: outcome lost" };
        default:
          return real.publish(message);
      }
    },
  };
}

describe("two relays on one table", () => {
  it("publish every row exactly once onto the queue, each aggregate in commit order", async () => {
    const destination = address();
    const rows = await insertRows(db, destination, 100, 5);
    const queue = drain(destination);
    relay({ databaseUrl, brokerUrl, destination, batchSize: 40, concurrency: 2 });
    relay({ databaseUrl, brokerUrl, destination, batchSize: 40, concurrency: 2 });

    const received = await queue.waitFor(rows.length, 90_000);
    expect(exactlyOnceReport(rows, received)).toEqual({ missing: [], duplicates: [], unexpected: [] });
    expect(outOfOrderAggregates(rows, received)).toEqual([]);
    await waitUntil("all published", async () => (await statuses(destination)).published === rows.length);
  });
});

describe("per-aggregate order under injected failures", () => {
  it("holds with two relays while sends are rejected, lost before and lost after reaching the broker", async () => {
    const destination = address();
    const rows = await insertRows(db, destination, 40, 6);
    const queue = drain(destination);
    const chaos = (real: RelayPublisher) =>
      flaky(real, () => {
        const r = Math.random();
        if (r < 0.1) return "reject";
        if (r < 0.15) return "lose-before-send";
        if (r < 0.2) return "lose-after-send";
        return "pass";
      });
    relay({ databaseUrl, brokerUrl, destination, batchSize: 25, wrapPublisher: chaos });
    relay({ databaseUrl, brokerUrl, destination, batchSize: 25, wrapPublisher: chaos });

    await waitUntil(
      "all published",
      async () => (await statuses(destination)).published === rows.length,
      120_000,
    );
    const received = await queue.waitFor(rows.length, 30_000);
    expect(exactlyOnceReport(rows, received)).toEqual({ missing: [], duplicates: [], unexpected: [] });
    expect(outOfOrderAggregates(rows, received)).toEqual([]);
  });
});

describe("a message the broker keeps refusing", () => {
  it("goes dead after maxAttempts with its history, while the others keep flowing (OUTBOX_DEAD_BLOCKS_AGGREGATE=false: parked, order traded for progress)", async () => {
    const destination = address();
    const rows = await insertRows(db, destination, 20, 2);
    const poison = rows[0]!; // first row of its aggregate; the aggregate's second row must still go out
    const queue = drain(destination);
    relay({
      databaseUrl,
      brokerUrl,
      destination,
      maxAttempts: 3,
      deadBlocksAggregate: false,
      wrapPublisher: (real) => flaky(real, (m) => (m.id === poison.id ? "reject" : "pass")),
    });

    await waitUntil("poison dead and the rest published", async () => {
      const s = await statuses(destination);
      return s.dead === 1 && s.published === rows.length - 1;
    });
    const received = await queue.waitFor(rows.length - 1, 30_000);
    expect(
      exactlyOnceReport(
        rows.filter((r) => r.id !== poison.id),
        received,
      ),
    ).toEqual({
      missing: [],
      duplicates: [],
      unexpected: [],
    });
    const [dead] = (
      await db.execute<{ attempts: number; last_error: string }>(
        sql`select attempts, last_error from outbox_messages where id = ${poison.id}`,
      )
    ).rows;
    expect(dead).toMatchObject({ attempts: 3 });
    expect(dead?.last_error).toContain("injected");
    const history = await db.execute<{ outcome: string }>(
      sql`select outcome from outbox_attempts where message_id = ${poison.id} order by id`,
    );
    expect(history.rows.map((h) => h.outcome)).toEqual(["rejected", "rejected", "rejected", "dead"]);
  });

  it("holds back only its own aggregate (the default, OUTBOX_DEAD_BLOCKS_AGGREGATE=true)", async () => {
    const destination = address();
    const rows = await insertRows(db, destination, 10, 2);
    const poison = rows[0]!;
    const blocked = rows.find((r) => r.aggregateId === poison.aggregateId && r.id !== poison.id)!;
    const queue = drain(destination);
    relay({
      databaseUrl,
      brokerUrl,
      destination,
      maxAttempts: 2,
      deadBlocksAggregate: true,
      wrapPublisher: (real) => flaky(real, (m) => (m.id === poison.id ? "reject" : "pass")),
    });
    await waitUntil("others published", async () => {
      const s = await statuses(destination);
      return s.dead === 1 && s.published === rows.length - 2;
    });
    // A row committed after the poison went dead: once it is published, the relay has claimed past
    // the held row (smaller seq), which it would have taken had it been claimable.
    const [later] = await insertRows(db, destination, 1, 1);
    await waitUntil(
      "a later row published",
      async () => (await statuses(destination)).published === rows.length - 1,
    );
    expect(await statuses(destination)).toEqual({ dead: 1, pending: 1, published: rows.length - 1 });
    const received = await queue.waitFor(rows.length - 1, 10_000);
    expect(received.map((m) => m.id)).toContain(later!.id);
    expect(received.map((m) => m.id)).not.toContain(blocked.id);
  });
});

describe("a message the broker itself rejects", () => {
  it("goes dead after maxAttempts (address full, FAIL policy) while another destination keeps flowing", async () => {
    // Artemis stores the first message, then the address is full and every further send is
    // answered `rejected` by the broker: no client-side injection here.
    const refused = await insertRows(db, FULL_QUEUE, 5, 1);
    const other = address();
    const rows = await insertRows(db, other, 10, 2);
    const queue = drain(other);
    relay({ databaseUrl, brokerUrl, destination: FULL_QUEUE, maxAttempts: 2 });
    relay({ databaseUrl, brokerUrl, destination: other, maxAttempts: 2 });

    await waitUntil("the full address's rows settled and the other destination published", async () => {
      const full = await statuses(FULL_QUEUE);
      const flowing = await statuses(other);
      return (full.pending ?? 0) === 0 && flowing.published === rows.length;
    });
    const full = await statuses(FULL_QUEUE);
    expect(full.dead ?? 0).toBeGreaterThanOrEqual(refused.length - 1);
    expect((full.dead ?? 0) + (full.published ?? 0)).toBe(refused.length);
    expect(exactlyOnceReport(rows, await queue.waitFor(rows.length, 30_000))).toEqual({
      missing: [],
      duplicates: [],
      unexpected: [],
    });
    const dead = await db.execute<{ id: string; attempts: number; last_error: string }>(
      sql`select id, attempts, last_error from outbox_messages where destination = ${FULL_QUEUE} and status = 'dead'`,
    );
    for (const row of dead.rows) {
      expect(row.attempts).toBe(2);
      expect(row.last_error).toMatch(/rejected/i);
    }
    const history = await db.execute<{ outcome: string }>(
      sql`select outcome from outbox_attempts where message_id = ${dead.rows[0]!.id} order by id`,
    );
    expect(history.rows.map((h) => h.outcome)).toEqual(["rejected", "rejected", "dead"]);
  });
});

describe("scheduled delivery and priority", () => {
  it("publishes at once but the broker holds the message until deliverAt", async () => {
    const destination = address();
    const queue = drain(destination);
    relay({ databaseUrl, brokerUrl, destination });
    const deliverAt = new Date(Date.now() + 4_000);
    const [row] = await insertRows(db, destination, 1, 1, { deliverAt, priority: 7, ordered: false });
    await waitUntil("published", async () => (await statuses(destination)).published === 1);
    const [published] = (
      await db.execute<{ published_at: Date }>(
        sql`select published_at from outbox_messages where id = ${row!.id}`,
      )
    ).rows;
    expect(new Date(published!.published_at).getTime()).toBeLessThan(deliverAt.getTime());
    const [received] = await queue.waitFor(1, 30_000, 0);
    expect(received?.id).toBe(row!.id);
    // Delivered no earlier than scheduled (a little slack for clock granularity).
    expect(received!.receivedAt).toBeGreaterThanOrEqual(deliverAt.getTime() - 100);
    expect(received!.message.priority).toBe(7);
  });
});

describe("wake-up on commit", () => {
  it("publishes a committed row long before the fallback poll would", async () => {
    const destination = address();
    const queue = drain(destination);
    relay({ databaseUrl, brokerUrl, destination, pollIntervalMs: 120_000 });
    await delay(2_000); // first (empty) pass done, listener connected: the relay sleeps for 2 minutes
    const [row] = await insertRows(db, destination, 1, 1);
    const [received] = await queue.waitFor(1, 60_000, 0);
    expect(received?.id).toBe(row!.id);
  });
});

describe("LISTEN connection lost", () => {
  it("reconnects by itself and keeps waking the relay on commit", async () => {
    const destination = address();
    const queue = drain(destination);
    const { owner } = relay({ databaseUrl, brokerUrl, destination, pollIntervalMs: 120_000 });
    // The library names the relay's LISTEN connection after its owner.
    const listener = `${owner}-listen`;
    await delay(2_000);
    const killed = await db.execute<{ ok: boolean }>(
      sql`select pg_terminate_backend(pid) as ok from pg_stat_activity
           where application_name = ${listener} and query ilike 'LISTEN%'`,
    );
    expect(killed.rows.length).toBeGreaterThan(0);
    await waitUntil("listener back", async () => {
      const rows = await db.execute(
        sql`select 1 from pg_stat_activity where application_name = ${listener} and query ilike 'LISTEN%'`,
      );
      return rows.rows.length >= killed.rows.length;
    });
    await delay(1_000); // the reconnect's own wake-up pass is over: the relay sleeps for 2 minutes
    const [row] = await insertRows(db, destination, 1, 1);
    const [received] = await queue.waitFor(1, 60_000, 0);
    expect(received?.id).toBe(row!.id);
  });
});

describe("destination the broker does not know", () => {
  it("is a link error: nothing counted against the messages, health degraded with the reason", async () => {
    const destination = "relay-test-undeclared";
    const rows = await insertRows(db, destination, 2, 1);
    const handle = relay({ databaseUrl, brokerUrl, destination });
    await delay(4_000);
    const health = await handle.relay.healthCheck()();
    expect(health.status).toBe("degraded");
    expect(health.detail).toMatch(/not-found|does not exist|not sendable/i);
    const attempts = await db.execute<{ status: string; attempts: number }>(
      sql`select status, attempts from outbox_messages where destination = ${destination}`,
    );
    expect(attempts.rows).toEqual(rows.map(() => ({ status: "pending", attempts: 0 })));
    await db.execute(sql`delete from outbox_messages where destination = ${destination}`);
  });
});

describe("claiming with a million-row table", () => {
  it("reads only partial indexes, however many published rows there are, with or without dead rows blocking", async () => {
    const destination = address();
    await db.execute(sql`
      insert into outbox_messages (id, aggregate_type, aggregate_id, type, version, destination, payload,
                                   status, published_at)
      select gen_random_uuid(), 'Test', g::text, 'TestEvent', 1, ${destination}, '{}'::jsonb, 'published', now()
        from generate_series(1, 200000) g`);
    // 1,000 aggregates stopped at a dead row, each with two later rows held behind it.
    await db.execute(sql`
      insert into outbox_messages (id, aggregate_type, aggregate_id, type, version, destination, payload,
                                   status, attempts)
      select gen_random_uuid(), 'Test', 'blocked-' || g, 'TestEvent', 1, ${destination}, '{}'::jsonb,
             s.status, case when s.status = 'dead' then 10 else 0 end
        from generate_series(1, 1000) g, (values (1, 'dead'), (2, 'pending'), (3, 'pending')) as s(n, status)
       order by g, s.n`);
    await insertRows(db, destination, 5, 1);
    await db.execute(sql`analyze outbox_messages`);
    for (const deadBlocksAggregate of [true, false]) {
      const query = claimOutboxBatchQuery(outbox.tables, {
        owner: "explain",
        destination,
        limit: 100,
        leaseMs: 1,
        deadBlocksAggregate,
      });
      // Plain EXPLAIN plans without executing: nothing is claimed.
      const plan = await db.execute<{ "QUERY PLAN": string }>(sql`explain ${query}`);
      const text = plan.rows.map((r) => r["QUERY PLAN"]).join("\n");
      expect(text, text).toContain("outbox_messages_pending_seq_idx");
      // The order check (anti-join on earlier pending, or pending and dead, rows of the aggregate)
      // reads the partial unpublished-aggregate index: a dead row costs no table scan.
      expect(text, text).toContain("outbox_messages_unpublished_aggregate_idx");
      expect(text, text).not.toMatch(/Seq Scan on outbox_messages/);
    }
    await db.execute(sql`delete from outbox_messages where destination = ${destination}`);
  });
});

describe("retention", () => {
  it("deletes only published/delivered rows older than the retention period, one instance at a time", async () => {
    const destination = address();
    const ids = await db.execute<{ id: string; status: string; old: boolean }>(sql`
      insert into outbox_messages (id, aggregate_type, aggregate_id, type, version, destination, payload,
                                   status, created_at, published_at, delivered_at)
      select gen_random_uuid(), 'Test', g::text, 'TestEvent', 1, ${destination}, '{}'::jsonb, s.status,
             now() - interval '3 hours',
             case when s.status in ('published', 'delivered') then now() - s.age end,
             case when s.status = 'delivered' then now() - s.age end
        from generate_series(1, 5) g,
             (values ('published', interval '2 hours'), ('published', interval '1 minute'),
                     ('delivered', interval '2 hours'), ('pending', interval '2 hours'),
                     ('dead', interval '2 hours')) as s(status, age)
      returning id, status, published_at < now() - interval '1 hour' as old`);
    expect(ids.rows).toHaveLength(25);

    // Another instance holds the job's lock: this one backs off and deletes nothing.
    const holder = await pool.connect();
    try {
      await holder.query("select pg_advisory_lock($1)", [OUTBOX_RETENTION_LOCK_KEY]);
      expect(
        await outbox.purgeFinished(db, { olderThanMs: 3_600_000, batchSize: 3, maxBatches: 100 }),
      ).toEqual({
        deleted: 0,
        lockedOut: true,
      });
      await holder.query("select pg_advisory_unlock($1)", [OUTBOX_RETENTION_LOCK_KEY]);
    } finally {
      holder.release();
    }

    // Other tests' rows are recent, so only this test's 10 old finished rows qualify.
    const result = await outbox.purgeFinished(db, {
      olderThanMs: 3_600_000,
      batchSize: 3,
      maxBatches: 100,
    });
    expect(result).toEqual({ deleted: 10, lockedOut: false });
    expect(await statuses(destination)).toEqual({ published: 5, pending: 5, dead: 5 });
  });
});
