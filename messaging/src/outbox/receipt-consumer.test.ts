import { EventEmitter } from "node:events";
import { PgDialect } from "drizzle-orm/pg-core";
import type pg from "pg";
import rhea, { type Connection, type Delivery, type Message } from "rhea";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Logger } from "../logger.js";
import type { Transport } from "../transport/transport.js";
import { ArtemisConsumer } from "../transports/artemis/consumer.js";
import type { SqlDb } from "./sql-db.js";
import { markAllDelivered, startReceiptConsumer, type RunningReceiptConsumer } from "./receipt-consumer.js";
import { outboxTables } from "./tables.js";

// Unit tests of stop(): the transport is a fake whose consumer() is the Artemis consumer over a
// fake rhea link, and the database is a fake, so the test controls exactly when the database
// fails and can count every statement tried after stop().

const logger: Logger = {
  info: vi.fn(),
  warn: vi.fn(),
  debug: vi.fn(),
  error: vi.fn(),
  child: () => logger,
};

/** The receiver link the consumer opens: receipts are pushed through emit("message"). */
class FakeReceiver extends EventEmitter {
  credit = 0;
  closed = false;
  add_credit(n: number): void {
    this.credit += n;
  }
  is_open(): boolean {
    return !this.closed;
  }
  is_remote_open(): boolean {
    return !this.closed;
  }
  close(): void {
    this.closed = true;
  }
}

interface FakeDelivery {
  settled: Array<"accept" | "release" | "modified" | "reject">;
  delivery: Delivery;
}

function fakeDelivery(): FakeDelivery {
  const settled: FakeDelivery["settled"] = [];
  const delivery = {
    accept: () => settled.push("accept"),
    release: () => settled.push("release"),
    modified: () => settled.push("modified"),
    reject: () => settled.push("reject"),
  } as unknown as Delivery;
  return { settled, delivery };
}

let receiptNumber = 0;
function receiptMessage(): Message {
  receiptNumber += 1;
  const messageId = `0193a5b2-7c4d-7e8f-9a0b-${String(receiptNumber).padStart(12, "0")}`;
  return {
    message_id: messageId,
    body: rhea.message.data_section(
      Buffer.from(JSON.stringify({ messageId, group: "receiver", appliedAt: new Date().toISOString() })),
    ) as unknown,
  };
}

/** A connection refused, as pg reports a database that is down (a transient error). */
function databaseDown(): Error {
  return Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
}

interface Setup {
  consumer: RunningReceiptConsumer;
  receiver: FakeReceiver;
  execute: ReturnType<typeof vi.fn>;
  probe: ReturnType<typeof vi.fn>;
  deliver(): FakeDelivery;
}

function setup(execute: () => Promise<unknown>, stopTimeoutMs?: number): Setup {
  const receiver = new FakeReceiver();
  const connection = {
    open_receiver: () => receiver,
    on: () => connection,
    removeListener: () => connection,
  } as unknown as Connection;
  const transport: Pick<Transport, "consumer"> = {
    consumer: (options) => new ArtemisConsumer({ connection }, options, logger),
  };
  const executeMock = vi.fn(execute);
  const probe = vi.fn(() => Promise.resolve(false));
  const consumer = startReceiptConsumer(outboxTables(), {
    transport,
    source: "delivery-receipts::delivery-receipts",
    db: { execute: executeMock } as unknown as SqlDb,
    logger,
    probe,
    ...(stopTimeoutMs !== undefined ? { stopTimeoutMs } : {}),
  });
  receiver.emit("receiver_open");
  return {
    consumer,
    receiver,
    execute: executeMock,
    probe,
    deliver() {
      const d = fakeDelivery();
      receiver.emit("message", { delivery: d.delivery, message: receiptMessage() });
      return d;
    },
  };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  await vi.waitFor(() => {
    if (!condition()) throw new Error(`still waiting for ${what}`);
  });
}

const stopped: RunningReceiptConsumer[] = [];
afterEach(async () => {
  for (const consumer of stopped.splice(0)) await consumer.stop();
  vi.useRealTimers();
});

/** Each statement the consumer runs, answered when the test says so. */
class ControlledDatabase {
  readonly calls: Array<{ resolve: (value: unknown) => void; reject: (error: Error) => void }> = [];
  /** Once set, statements fail with it on the next turn (not in a microtask, which a retry loop could spin on). */
  failNewWith: Error | undefined;
  execute = (): Promise<unknown> =>
    new Promise((resolve, reject) => {
      this.calls.push({ resolve, reject });
      const error = this.failNewWith;
      if (error !== undefined) setImmediate(() => reject(error));
    });
}

/** Resolves to "timeout" when `promise` takes longer than `ms` (so a hang fails the test instead). */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

describe("the receipt consumer's stop()", () => {
  it("resolves promptly when called while paused, though a batch fails after it", async () => {
    const db = new ControlledDatabase();
    const s = setup(db.execute);
    stopped.push(s.consumer);
    // Two batches in flight at once: the second is cut while the first runs.
    const first = s.deliver();
    await until(() => db.calls.length === 1, "the first batch's UPDATE");
    const second = s.deliver();
    await until(() => db.calls.length === 2, "the second batch's UPDATE");
    // The first fails: the consumer pauses (precondition), the second is still running.
    db.calls[0]?.reject(databaseDown());
    await vi.waitFor(async () => {
      const health = await s.consumer.healthCheck()();
      expect(health.data?.["paused"], "the consumer paused").toBe(true);
    });
    expect(first.settled).toEqual([]);

    const began = performance.now();
    const stopping = s.consumer.stop();
    // The running batch fails too, after stop(): it must not wait for a resume nobody will signal.
    db.calls[1]?.reject(databaseDown());
    expect(await within(stopping, 1_000)).toBeUndefined();
    expect(performance.now() - began).toBeLessThan(1_000);

    expect(first.settled).toEqual(["release"]);
    expect(second.settled).toEqual(["release"]);
    expect(s.receiver.closed).toBe(true);
    const probes = s.probe.mock.calls.length;
    // The first probe was due 500 ms after the pause: wait past it.
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(s.probe.mock.calls.length, "probes after stop()").toBe(probes);
    expect(db.calls).toHaveLength(2);
  });

  it("makes no more attempts when the database fails after stop()", async () => {
    const db = new ControlledDatabase();
    const s = setup(db.execute);
    stopped.push(s.consumer);
    // Two receipts in the same turn form one batch (one UPDATE).
    const receipts = [s.deliver(), s.deliver()];
    await until(() => db.calls.length === 1, "the batch's UPDATE");

    const stopping = s.consumer.stop();
    db.failNewWith = databaseDown();
    db.calls[0]?.reject(databaseDown());
    expect(await within(stopping, 1_000)).toBeUndefined();

    for (const receipt of receipts) expect(receipt.settled).toEqual(["release"]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(db.calls.length, "UPDATEs tried after stop()").toBe(1);
    expect(s.probe).not.toHaveBeenCalled();
  });

  it("keeps to its budget when an UPDATE hangs, and settles that receipt once", async () => {
    const db = new ControlledDatabase();
    const s = setup(db.execute, 200);
    stopped.push(s.consumer);
    const receipt = s.deliver();
    await until(() => db.calls.length === 1, "the UPDATE to start");

    const began = performance.now();
    await s.consumer.stop();
    expect(performance.now() - began).toBeLessThan(1_000);
    expect(receipt.settled).toEqual(["release"]);

    // The UPDATE completes after all: the receipt was given back already, it is not settled twice.
    db.calls[0]?.resolve({ rows: [] });
    await new Promise((resolve) => setImmediate(resolve));
    expect(receipt.settled).toEqual(["release"]);
  });

  it("still marks the receipts in hand when the database answers", async () => {
    const s = setup(() => Promise.resolve({ rows: [] }));
    stopped.push(s.consumer);
    const receipt = s.deliver();
    await s.consumer.stop();
    expect(receipt.settled).toEqual(["accept"]);
    expect(s.execute).toHaveBeenCalledTimes(1);
  });
});

describe("markAllDelivered", () => {
  it("updates the outbox's own tables (its schema and prefix)", async () => {
    const queries: string[] = [];
    const db: SqlDb = {
      execute: (query) => {
        queries.push(new PgDialect().sqlToQuery(query).sql);
        return Promise.resolve({ rows: [] } as unknown as pg.QueryResult<never>);
      },
    };
    const tables = outboxTables({ schema: "shop", tablePrefix: "app_" });
    await markAllDelivered(db, tables, [
      {
        messageId: "0193a5b2-7c4d-7e8f-9a0b-000000000001",
        group: "receiver",
        appliedAt: "2026-01-01T00:00:00Z",
      },
    ]);
    expect(queries).toHaveLength(1);
    expect(queries[0]).toContain('FROM "shop"."app_outbox_messages" o');
    expect(queries[0]).toContain('UPDATE "shop"."app_outbox_messages" o');
    expect(queries[0]).not.toMatch(/[^_"]outbox_messages/);
  });
});
