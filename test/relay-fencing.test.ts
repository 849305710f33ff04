import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DistributedApplication } from "@outbox/apphost";
import { startTestApp, stopTestApp } from "@outbox/apphost/testing";
import type pg from "pg";
import { v7 as uuidv7 } from "uuid";
import type { Database } from "../sender-service/src/data/db.js";
import { UnorderedOptionsError, type EnqueueOptions, type PublishOutcome } from "@outbox/messaging";
import {
  claimOutboxBatch,
  markPublished,
  releaseClaims,
  scheduleRetry,
  type ClaimRequest,
} from "../messaging/src/outbox/relay-statements.js";
import type { RelayPublisher } from "../messaging/src/outbox/relay.js";
import { outbox } from "../sender-service/src/messaging/outbox.js";
import { createDatabase, createPool } from "../sender-service/src/data/db.js";
import { markAllDelivered } from "../messaging/src/outbox/receipt-consumer.js";
import {
  openDatabase,
  QueueDrain,
  relayTestModel,
  RELAY_TEST_QUEUES,
  startRelay,
} from "./support/relay-harness.js";
import { eventually } from "./support/receiver.js";

const tables = outbox.tables;

// Review defects 2, 3, 4 and 7, at the outbox table of a real PostgreSQL (the sender's own
// database, migrated by the sender): rows go to addresses no relay serves, so only the claims
// made here touch them.
let app: DistributedApplication;
let db: Database;
let pool: pg.Pool;

beforeAll(async () => {
  app = await startTestApp({ model: relayTestModel() });
  ({ db, pool } = openDatabase(app.getConnectionString("senderdb")));
});

afterAll(async () => {
  await pool?.end();
  await stopTestApp(app);
});

function destination(): string {
  return `fencing-${randomUUID().slice(0, 8)}`;
}

async function insert(address: string, aggregateId: string, options: EnqueueOptions = {}): Promise<string> {
  const id = uuidv7();
  await db.transaction((tx) =>
    outbox.enqueue(
      tx,
      {
        id,
        aggregateType: "Test",
        key: aggregateId,
        type: "TestEvent",
        version: 1,
        destination: address,
        payload: {},
      },
      options,
    ),
  );
  return id;
}

function claim(address: string, owner = "relay-a"): Promise<Awaited<ReturnType<typeof claimOutboxBatch>>> {
  const request: ClaimRequest = {
    owner,
    destination: address,
    limit: 10,
    leaseMs: 60_000,
    deadBlocksAggregate: false,
  };
  return claimOutboxBatch(db, tables, request);
}

async function expireLeases(address: string): Promise<void> {
  await db.execute(
    sql`update outbox_messages set locked_until = now() - interval '1 second' where destination = ${address}`,
  );
}

async function row(id: string) {
  const result = await db.execute<{
    status: string;
    claim_token: string | null;
    locked_by: string | null;
    outcome_unknown: boolean;
  }>(sql`select status, claim_token, locked_by, outcome_unknown from outbox_messages where id = ${id}`);
  return result.rows[0];
}

describe("review defect 4: fencing per claim, not per process", () => {
  it("ignores a stale outcome of an earlier claim of the same instance", async () => {
    const address = destination();
    const id = await insert(address, "a1");
    const [first] = await claim(address, "relay-a");
    expect(first?.id).toBe(id);
    // Loop 1's send hangs past its lease; loop 2 of the SAME instance claims the row again.
    await expireLeases(address);
    const [second] = await claim(address, "relay-a");
    expect(second?.id).toBe(id);
    expect(second?.claimToken).not.toBe(first?.claimToken);

    // Loop 1's late outcomes must change nothing: not release, not fail, not publish loop 2's claim.
    expect(await releaseClaims(db, tables, first!.claimToken, [id], "timeout")).toBe(0);
    expect(
      await scheduleRetry(
        db,
        tables,
        { token: first!.claimToken, owner: "relay-a" },
        { id, error: "rejected", delayMs: 0, countAttempt: true, outcome: "rejected" },
        1,
      ),
    ).toBeUndefined();
    expect(await markPublished(db, tables, first!.claimToken, [{ id, at: new Date() }])).toEqual([]);
    expect(await row(id)).toMatchObject({ status: "pending", claim_token: second!.claimToken });

    // Loop 2's own outcome counts.
    expect(await markPublished(db, tables, second!.claimToken, [{ id, at: new Date() }])).toHaveLength(1);
    expect(await row(id)).toMatchObject({ status: "published", claim_token: null });
  });
});

describe("claim tokens", () => {
  it("give every row of one claim the same token", async () => {
    const address = destination();
    for (let i = 0; i < 5; i++) await insert(address, randomUUID());
    const claimed = await claim(address);
    expect(claimed).toHaveLength(5);
    expect(new Set(claimed.map((r) => r.claimToken)).size).toBe(1);
  });
});

describe("review defect 3: a refused resend of a message whose send had an unknown outcome", () => {
  it("does not make the message dead (the first copy may be on the broker)", async () => {
    const address = destination();
    const id = await insert(address, "b1");
    const [first] = await claim(address);
    // The send's outcome was unknown (timeout, connection lost): the claim is given back.
    expect(await releaseClaims(db, tables, first!.claimToken, [id], "no outcome within 10000 ms")).toBe(1);
    const [second] = await claim(address);
    // The resend is refused by the broker, and the refusal would be the last allowed attempt.
    const result = await scheduleRetry(
      db,
      tables,
      { token: second!.claimToken, owner: "relay-a" },
      { id, error: "rejected by broker: address full", delayMs: 0, countAttempt: true, outcome: "rejected" },
      1,
    );
    expect(result?.status).toBe("pending");
    expect((await row(id))?.status).toBe("pending");
  });

  it("still makes a message dead whose sends were all refused", async () => {
    const address = destination();
    const id = await insert(address, "b2");
    const [first] = await claim(address);
    const result = await scheduleRetry(
      db,
      tables,
      { token: first!.claimToken, owner: "relay-a" },
      { id, error: "rejected by broker: address full", delayMs: 0, countAttempt: true, outcome: "rejected" },
      1,
    );
    expect(result?.status).toBe("dead");
  });

  it("does not mark a message that was never handed to the broker as possibly sent", async () => {
    const address = destination();
    const id = await insert(address, "b3");
    const [first] = await claim(address);
    expect(await releaseClaims(db, tables, first!.claimToken, [id], "not sent: relay stopping", false)).toBe(
      1,
    );
    const [second] = await claim(address);
    const result = await scheduleRetry(
      db,
      tables,
      { token: second!.claimToken, owner: "relay-a" },
      { id, error: "rejected by broker: address full", delayMs: 0, countAttempt: true, outcome: "rejected" },
      1,
    );
    expect(result?.status).toBe("dead");
  });
});

describe("review defect 7: the order check is per destination", () => {
  it("does not let a pending row on an address nobody relays block the aggregate elsewhere", async () => {
    const relayed = destination();
    const unrelayed = destination();
    const aggregate = randomUUID();
    await insert(unrelayed, aggregate);
    const later = await insert(relayed, aggregate);
    expect((await claim(relayed)).map((r) => r.id)).toEqual([later]);
  });

  it("still keeps the order on one destination", async () => {
    const address = destination();
    const aggregate = randomUUID();
    const first = await insert(address, aggregate);
    await insert(address, aggregate);
    expect((await claim(address)).map((r) => r.id)).toEqual([first]);
  });
});

describe("review defect 2: deliverAt and priority versus per-aggregate order", () => {
  it("refuses scheduled or prioritised messages unless they opt out of ordering", async () => {
    const address = destination();
    await expect(insert(address, "c1", { priority: 7 })).rejects.toBeInstanceOf(UnorderedOptionsError);
    await expect(insert(address, "c1", { deliverAt: new Date(Date.now() + 60_000) })).rejects.toBeInstanceOf(
      UnorderedOptionsError,
    );
    // Priority 4 is the default: no reordering, accepted as ordered.
    await insert(address, "c1", { priority: 4 });
  });

  it("sends an opted-out message outside its aggregate's order, in both directions", async () => {
    const address = destination();
    const aggregate = randomUUID();
    const ordered = await insert(address, aggregate);
    const urgent = await insert(address, aggregate, { priority: 9, ordered: false });
    const orderedLater = await insert(address, aggregate);
    const claimed = (await claim(address)).map((r) => r.id);
    // The unordered row neither waits for the first ordered row nor holds back the later one's turn.
    expect(claimed).toEqual([ordered, urgent]);
    expect(claimed).not.toContain(orderedLater);
  });
});

describe("review defect 6: the relay stops within the host's hook budget", () => {
  it("releases the claims of sends whose outcome never came, within 5 s", async () => {
    const address = RELAY_TEST_QUEUES[0]!;
    // A broker that takes the messages and never answers (a stalled broker): every send hangs
    // until the publisher is closed.
    const hanging = new Set<(outcome: PublishOutcome) => void>();
    const handle = startRelay({
      databaseUrl: app.getConnectionString("senderdb"),
      brokerUrl: app.getConnectionString("broker"),
      destination: address,
      wrapPublisher: (real): RelayPublisher => ({
        isSendable: () => real.isSendable(),
        waitUntilSendable: (ms, signal) => real.waitUntilSendable(ms, signal),
        state: () => real.state(),
        publish: () => new Promise<PublishOutcome>((resolve) => hanging.add(resolve)),
        close: async () => {
          for (const resolve of hanging) resolve({ kind: "unknown", reason: "publisher closed" });
          hanging.clear();
          await real.close();
        },
      }),
    });
    try {
      const ids = await Promise.all([insert(address, randomUUID()), insert(address, randomUUID())]);
      // The precondition: both rows are claimed and their sends are in flight.
      await eventually(
        "two sends in flight",
        () => Promise.resolve(hanging.size === 2 ? true : undefined),
        60_000,
      );
      const began = Date.now();
      await handle.relay.stop();
      const took = Date.now() - began;
      expect(took).toBeLessThan(5_000);
      for (const id of ids) expect(await row(id)).toMatchObject({ status: "pending", locked_by: null });
    } finally {
      await handle.stop();
    }
  });
});

describe("issue 18: a row claimed again after its lease lapsed is possibly sent", () => {
  it("is not made dead by a refusal of the resend (the relay may have crashed after the broker accepted)", async () => {
    const address = destination();
    const id = await insert(address, "p1");
    const [first] = await claim(address, "relay-a");
    // relay-a crashes or stalls after the broker accepted its send and before its mark: nothing
    // settles the claim, its lease runs out and relay-b claims the row again.
    await expireLeases(address);
    const [second] = await claim(address, "relay-b");
    expect(second?.id).toBe(id);
    expect(second?.claimToken).not.toBe(first?.claimToken);
    expect((await row(id))?.outcome_unknown, "marked possibly sent by the takeover").toBe(true);

    // The resend is refused, and that refusal would be the last allowed attempt.
    const result = await scheduleRetry(
      db,
      tables,
      { token: second!.claimToken, owner: "relay-b" },
      { id, error: "rejected by broker: address full", delayMs: 0, countAttempt: true, outcome: "rejected" },
      1,
    );
    expect(result).toEqual({ status: "pending", attempts: 1 });
    expect(await row(id)).toMatchObject({ status: "pending", outcome_unknown: true });
  });

  it("does not mark a row whose earlier claim was settled (refused and rescheduled)", async () => {
    const address = destination();
    const id = await insert(address, "p2");
    const refuse = async (token: string) =>
      scheduleRetry(
        db,
        tables,
        { token, owner: "relay-a" },
        {
          id,
          error: "rejected by broker: address full",
          delayMs: 0,
          countAttempt: true,
          outcome: "rejected",
        },
        2,
      );
    const [first] = await claim(address);
    expect(await refuse(first!.claimToken)).toEqual({ status: "pending", attempts: 1 });
    const [second] = await claim(address);
    expect((await row(id))?.outcome_unknown).toBe(false);
    expect(await refuse(second!.claimToken)).toEqual({ status: "dead", attempts: 2 });
  });
});

describe("issue 18: a relay loop stalls after the broker accepted, and the resend is refused", () => {
  it("keeps the message (possibly delivered) instead of making it dead, until its receipt marks it delivered", async () => {
    // One relay with two loops: the first loop's send is accepted by the broker, then the loop
    // stalls before its mark (its outcome never arrives, its claim is never settled); the second
    // loop takes the row over once the lease lapsed, and its resend is refused. The refusal is
    // injected: Artemis itself accepts a resend it recognises as a duplicate, even on a full
    // address (checked on the FAIL-policy address: AMQ222059 and `accepted`), so the refusals that
    // matter here come from elsewhere (permissions, a lost duplicate-id cache, ...).
    const address = RELAY_TEST_QUEUES[2]!;
    let sends = 0;
    let accepted = 0;
    const queue = new QueueDrain(app.getConnectionString("broker"), address);
    const relay = startRelay({
      databaseUrl: app.getConnectionString("senderdb"),
      brokerUrl: app.getConnectionString("broker"),
      destination: address,
      concurrency: 2,
      leaseMs: 3_000,
      pollIntervalMs: 250,
      // One refusal would make any other message dead.
      maxAttempts: 1,
      wrapPublisher: (real): RelayPublisher => ({
        isSendable: () => real.isSendable(),
        waitUntilSendable: (ms, signal) => real.waitUntilSendable(ms, signal),
        state: () => real.state(),
        close: () => real.close(),
        publish: async (message) => {
          sends += 1;
          if (sends > 1) return { kind: "rejected", reason: "injected refusal of the resend" };
          const outcome = await real.publish(message);
          if (outcome.kind === "accepted") accepted += 1;
          return new Promise<PublishOutcome>(() => undefined);
        },
      }),
    });
    try {
      const id = await insert(address, randomUUID());
      await eventually("the broker accepted the first send", () =>
        Promise.resolve(accepted === 1 ? true : undefined),
      );
      const first = await row(id);
      expect(first).toMatchObject({ status: "pending", outcome_unknown: false });
      // The copy is on the queue: the consumer gets it (and would answer with a receipt).
      expect((await queue.waitFor(1, 30_000)).map((m) => m.id)).toEqual([id]);

      const refusals = async (): Promise<string[]> =>
        (
          await pool.query<{ outcome: string }>(
            "select outcome from outbox_attempts where message_id = $1 order by id",
            [id],
          )
        ).rows.map((r) => r.outcome);
      await eventually("two refused resends", async () =>
        (await refusals()).length >= 2 ? true : undefined,
      );
      const taken = await row(id);
      expect(taken?.claim_token, "claimed again after the lease lapsed").not.toBe(first?.claim_token);
      expect(taken).toMatchObject({ status: "pending", outcome_unknown: true });
      expect(new Set(await refusals())).toEqual(new Set(["rejected"]));

      // The consumer's receipt settles it.
      const marked = await markAllDelivered(db, outbox.tables, [
        { messageId: id, group: "receiver", appliedAt: new Date().toISOString() },
      ]);
      expect([...marked]).toEqual([id]);
      expect(await row(id)).toMatchObject({ status: "delivered", claim_token: null });
    } finally {
      await relay.stop();
      await queue.close();
    }
  });
});

describe("issue 18: a receipt is proof of delivery", () => {
  it("marks a dead row delivered", async () => {
    const address = destination();
    const id = await insert(address, "d1");
    const [claimed] = await claim(address);
    const refused = await scheduleRetry(
      db,
      tables,
      { token: claimed!.claimToken, owner: "relay-a" },
      { id, error: "rejected by broker: address full", delayMs: 0, countAttempt: true, outcome: "rejected" },
      1,
    );
    expect(refused?.status).toBe("dead");

    const appliedAt = new Date().toISOString();
    const marked = await markAllDelivered(db, outbox.tables, [
      { messageId: id, group: "receiver", appliedAt },
    ]);
    expect([...marked]).toEqual([id]);
    expect(await row(id)).toMatchObject({ status: "delivered" });
  });
});

/** Backends of `applicationName` waiting for a lock right now. */
async function lockWaiters(applicationName: string): Promise<number> {
  const result = await pool.query<{ n: number }>(
    `select count(*)::int as n from pg_stat_activity
      where application_name = $1 and wait_event_type = 'Lock' and datname = current_database()`,
    [applicationName],
  );
  return result.rows[0]?.n ?? 0;
}

describe("issue 18: one lock order for every multi-row update of outbox rows", () => {
  it("lets a receipt batch and the relay's settlement over the same rows in opposite order both finish", async () => {
    // Both sides on connections that plan like a large outbox table (index lookups in the order the
    // statement lists the rows, as in production; a small test table would be scanned whole, in one
    // physical order for both, and hide the problem).
    const applicationName = `lock-order-${randomUUID().slice(0, 8)}`;
    const largeTablePlans = createPool({
      url: app.getConnectionString("senderdb"),
      max: 2,
      applicationName,
      onError: () => undefined,
      options:
        "-c enable_seqscan=off -c enable_hashjoin=off -c enable_mergejoin=off -c enable_bitmapscan=off",
    });
    const sides = createDatabase(largeTablePlans);
    const blocker = await pool.connect();
    try {
      for (let round = 0; round < 8; round++) {
        const address = destination();
        const ids: string[] = [];
        for (let i = 0; i < 12; i++) ids.push(await insert(address, randomUUID()));
        const claimed = await claimOutboxBatch(db, tables, {
          owner: "relay-a",
          destination: address,
          limit: ids.length,
          leaseMs: 60_000,
          deadBlocksAggregate: false,
        });
        expect(claimed.map((r) => r.id)).toEqual(ids);
        const token = claimed[0]!.claimToken;

        // A third transaction holds one row in the middle, so that both sides lock the rows they
        // reach first and then wait: the relay from the front (seq order), the receipts from the back.
        const middle = ids[3 + (round % 6)]!;
        await blocker.query("begin");
        await blocker.query("select id from outbox_messages where id = $1 for update", [middle]);
        const appliedAt = new Date().toISOString();
        const receipts = [...ids].reverse().map((messageId) => ({ messageId, group: "receiver", appliedAt }));
        // Even rounds: the relay marks the rows published; odd rounds: it gives the claims back.
        const relaySide =
          round % 2 === 0
            ? markPublished(
                sides,
                tables,
                token,
                ids.map((id) => ({ id, at: new Date() })),
              ).then((rows) => rows.length)
            : releaseClaims(sides, tables, token, ids, "no outcome");
        const receiptSide = markAllDelivered(sides, outbox.tables, receipts).then((marked) => marked.size);
        const outcomes = Promise.allSettled([relaySide, receiptSide]);
        // Precondition: both statements are waiting for row locks at the same time.
        await eventually("both sides waiting for row locks", async () =>
          (await lockWaiters(applicationName)) === 2 ? true : undefined,
        );
        await blocker.query("commit");

        const [relay, receipt] = await outcomes;
        for (const outcome of [relay, receipt]) {
          if (outcome.status === "rejected") throw outcome.reason;
        }
        // The receipts are proof of delivery: every row ends delivered, whichever side went first.
        const statuses = await pool.query<{ status: string }>(
          "select distinct status from outbox_messages where destination = $1",
          [address],
        );
        expect(statuses.rows.map((r) => r.status)).toEqual(["delivered"]);
      }
    } finally {
      await blocker.query("rollback").catch(() => undefined);
      blocker.release();
      await largeTablePlans.end();
    }
  });
});

describe("issue 18: the relay's settlement survives a deadlock", () => {
  it("runs a mark PostgreSQL aborted as a deadlock again instead of leaving the rows to the lease", async () => {
    const address = RELAY_TEST_QUEUES[1]!;
    const owner = `deadlock-${randomUUID().slice(0, 8)}`;
    // The broker's outcomes reach the relay only when the test opens the gate, so that the rows
    // can be locked between the claim and the mark.
    let openGate = (): void => undefined;
    const gate = new Promise<void>((resolve) => {
      openGate = resolve;
    });
    let sent = 0;
    const handle = startRelay({
      databaseUrl: app.getConnectionString("senderdb"),
      brokerUrl: app.getConnectionString("broker"),
      destination: address,
      owner,
      concurrency: 1,
      leaseMs: 60_000,
      wrapPublisher: (real): RelayPublisher => ({
        isSendable: () => real.isSendable(),
        waitUntilSendable: (ms, signal) => real.waitUntilSendable(ms, signal),
        state: () => real.state(),
        close: () => real.close(),
        publish: async (message) => {
          sent += 1;
          const outcome = await real.publish(message);
          await gate;
          return outcome;
        },
      }),
    });
    const blocker = await pool.connect();
    try {
      // Two rows in one transaction: one claim, one mark for both; the first has the smaller id.
      const ids = [uuidv7(), uuidv7()] as const;
      await db.transaction(async (tx) => {
        for (const id of ids)
          await outbox.enqueue(tx, {
            id,
            aggregateType: "Test",
            key: randomUUID(),
            type: "TestEvent",
            version: 1,
            destination: address,
            payload: {},
          });
      });
      await eventually("both rows sent", () => Promise.resolve(sent === 2 ? true : undefined), 60_000);
      for (const id of ids) expect((await row(id))?.locked_by).toBe(owner);

      // The relay's mark locks the first row and waits for the second, which the test holds; the
      // test then asks for the first: a cycle. The relay waited first, so its deadlock check runs
      // first and PostgreSQL aborts its statement (40P01).
      await blocker.query("begin");
      await blocker.query("select id from outbox_messages where id = $1 for update", [ids[1]]);
      openGate();
      await eventually("the relay's mark waiting for the second row", async () =>
        // The library's relay pool is named after its owner.
        (await lockWaiters(`${owner}-relay`)) === 1 ? true : undefined,
      );
      await blocker.query("select id from outbox_messages where id = $1 for update", [ids[0]]);
      // Precondition: the test got the first row, so the relay's mark gave it up unfinished.
      for (const id of ids) expect((await row(id))?.status).toBe("pending");
      await blocker.query("commit");

      // Published at once (the relay retried the mark), not after the 60 s lease.
      await eventually(
        "both rows published",
        async () => {
          const rows = await Promise.all(ids.map((id) => row(id)));
          return rows.every((r) => r?.status === "published") ? rows : undefined;
        },
        15_000,
      );
    } finally {
      openGate();
      await blocker.query("rollback").catch(() => undefined);
      blocker.release();
      await handle.stop();
    }
  });
});

describe("a PostgreSQL server killed while a connection is checked out", () => {
  // Found by the chaos soak: the sender died of an unhandled 'error' event when sender-pg was
  // SIGKILLed while a transaction held a pooled client between two statements.
  it("is an error for that client, not an unhandled event that kills the process", async () => {
    const errors: Error[] = [];
    const testPool = createPool({
      url: app.getConnectionString("senderdb"),
      max: 1,
      applicationName: "checked-out",
      onError: (error) => errors.push(error),
    });
    const client = await testPool.connect();
    try {
      await client.query("SELECT 1");
      await app.killResource("sender-pg");
      await eventually("the checked-out client's error", () =>
        Promise.resolve(errors.length > 0 ? true : undefined),
      );
      await expect(client.query("SELECT 1")).rejects.toThrow();
    } finally {
      client.release(true);
      await testPool.end();
      await app.startResource("sender-pg");
      await app.waitForHealthy("sender-pg");
    }
  });
});
