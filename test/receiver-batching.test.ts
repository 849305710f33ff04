import {
  artemisTransport,
  BrokerManagement,
  buildReceiptBody,
  receiptId,
  type ArtemisTransport,
  type ConsumerOptions,
  type ContractName,
  type Settlement,
  type InboxConsumer,
  type PublishOutcome,
  type ReceiptPublisher,
  type RunningReceiptConsumer,
  type Transport,
} from "@outbox/messaging";
import { randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createApp, type DistributedApplication } from "@outbox/apphost";
import { startTestApp, stopTestApp } from "@outbox/apphost/testing";
import { createLogger } from "@outbox/service-defaults";
import type pg from "pg";
import rhea from "rhea";
import type { Connection, EventContext, Message } from "rhea";
import { createPool, receiverInbox, runMigrations } from "../receiver-service/src/data/db.js";
import { receivedItemsOn } from "../receiver-service/src/data/received-items-store.js";
import { receiverHandlers } from "../receiver-service/src/domain/receiver-handlers.js";
import {
  createDatabase as createSenderDatabase,
  createPool as createSenderPool,
} from "../sender-service/src/data/db.js";
import { runMigrations as runSenderMigrations } from "../sender-service/src/data/migrate.js";
import { outbox } from "../sender-service/src/messaging/outbox.js";
import { connectToBroker, eventually, sendAndConfirm } from "./support/receiver.js";
import { versionOneReceipt } from "./support/receipts.js";

// The receiver's batched application (and the sender's batched receipts) in this process, against
// a real PostgreSQL and a real Artemis. A "gate" message, sent alone first, whose batch waits
// until every other message has arrived makes the batches deterministic: while it runs, the rest
// (sent once the gate's batch runs) forms exactly one batch.
const QUEUE = "batch-test";
const DLQ = `DLQ.${QUEUE}`;
const RECEIPTS = "batch-test-receipts";
const logger = createLogger(
  "receiver-batching-test",
  process.env.APPHOST_TEST_LOGS === "1" ? "info" : "silent",
);

let app: DistributedApplication;
let receiverPool: pg.Pool;
let receiverOwner: pg.Pool;
let senderPool: pg.Pool;
let broker: Connection;
const cleanups: Array<() => Promise<void>> = [];

/** The owner's URL of a database (what a service gets as <DB>_MIGRATIONS_URI), from the settings. */
async function ownerUrl(database: string): Promise<string> {
  const settings = JSON.parse(await fs.readFile(path.join(app.stateDir, "settings.json"), "utf8")) as Record<
    string,
    { secrets: Record<string, string> }
  >;
  const password = encodeURIComponent(settings[database]?.secrets["owner-password"] ?? "");
  return app
    .getConnectionString(database)
    .replace(new RegExp(`//${database}_app:[^@]*@`), `//${database}_owner:${password}@`);
}

beforeAll(async () => {
  const model = createApp();
  model.addPostgres("receiver-pg").addDatabase("receiverdb");
  model.addPostgres("sender-pg").addDatabase("senderdb");
  model
    .addArtemis("broker")
    .withDefaultAddressSettings({
      deadLetterAddress: "DLQ",
      autoCreateDeadLetterResources: true,
      redeliveryDelayMs: 100,
      maxDeliveryAttempts: 5,
    })
    .addQueue(QUEUE)
    .addQueue(RECEIPTS);
  app = await startTestApp({ model });
  receiverOwner = createPool({ url: await ownerUrl("receiverdb"), max: 2, onIdleError: () => {} });
  await runMigrations(receiverOwner);
  receiverPool = createPool({ url: app.getConnectionString("receiverdb"), max: 10, onIdleError: () => {} });
  const senderOwner = createSenderPool({
    url: await ownerUrl("senderdb"),
    max: 1,
    applicationName: "batch-test-owner",
    onError: () => {},
  });
  await runSenderMigrations(senderOwner);
  await senderOwner.end();
  senderPool = createSenderPool({
    url: app.getConnectionString("senderdb"),
    max: 4,
    applicationName: "batch-test",
    onError: () => {},
  });
  broker = await connectToBroker(app);
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  broker?.close();
  await receiverPool?.end();
  await receiverOwner?.end();
  await senderPool?.end();
  await stopTestApp(app);
});

// --- messages ---------------------------------------------------------------------------------

function created(name = "item", id = randomUUID()): Message {
  return eventMessage("EntityItemCreated", 1, id, {
    id,
    name,
    description: null,
    createdAt: new Date().toISOString(),
  });
}

function updated(id: string, version: number): Message {
  return eventMessage("EntityItemUpdated", 1, id, {
    id,
    name: `v${version}`,
    description: null,
    version,
    updatedAt: new Date().toISOString(),
  });
}

function eventMessage(type: string, version: number, aggregateId: string, payload: unknown): Message {
  return {
    message_id: randomUUID(),
    group_id: aggregateId,
    durable: true,
    application_properties: { type, version },
    body: rhea.message.data_section(Buffer.from(JSON.stringify(payload))) as unknown,
  };
}

async function send(messages: Message[]): Promise<void> {
  for (const message of messages) await sendAndConfirm(broker, QUEUE, message);
}

// --- the consumer under test -------------------------------------------------------------------

/** A transport of its own to the broker (not opened yet), closed after the test. */
function testTransport(): ArtemisTransport {
  const transport = artemisTransport({
    url: app.getConnectionString("broker"),
    containerId: randomUUID(),
    logger,
  });
  cleanups.push(() => transport.close());
  return transport;
}

interface Harness {
  consumer: InboxConsumer<never>;
  transport: ArtemisTransport;
  /** Message ids of each batch, in the order the batches ran. */
  batches: string[][];
  /** Resolves when the gate's batch is running (send the rest then). */
  gateRunning: Promise<void>;
}

/**
 * The receiver's inbox consumer (@outbox/messaging with the receiver's handlers) on QUEUE, in this
 * process, batching like the service; the transport is the real Artemis one, seen through a wrapper
 * that records each batch. `gate`: the batch holding this message id waits until `expected`
 * deliveries were received, so the rest forms one batch. `receipts`: publish receipts to RECEIPTS,
 * each through `publishReceipt` when given (to hold or fail them).
 */
function startConsumer(opts: {
  expected: number;
  gate?: string;
  receipts?: boolean;
  publishReceipt?: (publish: () => Promise<PublishOutcome>) => Promise<PublishOutcome>;
  /** How long a batch waits for more while another runs; long by default (exact batches). */
  lingerMs?: number;
}): Harness {
  const transport = testTransport();
  const batches: string[][] = [];
  let gateRunning: () => void = () => {};
  const gateStarted = new Promise<void>((resolve) => {
    gateRunning = resolve;
  });
  const observed: Transport = Object.assign(Object.create(transport) as ArtemisTransport, {
    consumer: <K extends ContractName, O extends Settlement>(options: ConsumerOptions<K, O>) =>
      transport.consumer<K, O>({
        ...options,
        handle: async (batch, context) => {
          const ids = batch.map((message) => message.messageId);
          batches.push(ids);
          if (opts.gate !== undefined && ids.includes(opts.gate)) {
            gateRunning();
            await eventually("every delivery received", () =>
              Promise.resolve(running.consumer.counters.received >= opts.expected ? true : undefined),
            );
          }
          return options.handle(batch, context);
        },
      }),
    receiptPublisher: (options: Parameters<Transport["receiptPublisher"]>[0]): ReceiptPublisher => {
      const inner = transport.receiptPublisher(options);
      const publishReceipt = opts.publishReceipt;
      if (publishReceipt === undefined) return inner;
      return Object.assign(Object.create(inner) as ReceiptPublisher, {
        publish: (...args: Parameters<ReceiptPublisher["publish"]>) =>
          publishReceipt(() => inner.publish(...args)),
      });
    },
  });
  transport.open();
  const running = receiverInbox.startConsumer({
    pool: receiverPool,
    transport: observed,
    source: `${QUEUE}::${QUEUE}`,
    group: "receiver",
    logger,
    maxInFlight: opts.expected,
    batchSize: opts.gate !== undefined ? opts.expected - 1 : 50,
    lingerMs: opts.lingerMs ?? 60_000,
    handlers: receiverHandlers(receivedItemsOn),
    ...(opts.receipts === true ? { receipts: { destination: RECEIPTS, timeoutMs: 5_000 } } : {}),
    probe: () => Promise.resolve(true),
  });
  cleanups.push(() => running.stop());
  return { consumer: running.consumer, transport, batches, gateRunning: gateStarted };
}

async function count(sql: string, params: unknown[] = []): Promise<number> {
  const result = await receiverOwner.query<{ n: string }>(sql, params);
  return Number(result.rows[0]?.n);
}

/** Takes one message from a dead-letter queue (created by the broker with its first message). */
async function takeDeadLetter(queue: string): Promise<Message | undefined> {
  return eventually(`a message in ${queue}`, async () => {
    const connection = await connectToBroker(app);
    try {
      // The per-address DLQ is a queue of the dead-letter address DLQ: fully qualified name.
      const receiver = connection.open_receiver({ source: { address: `DLQ::${queue}` }, credit_window: 1 });
      return await new Promise<Message | undefined>((resolve) => {
        const timer = setTimeout(() => resolve(undefined), 5_000);
        receiver.once("message", (ctx: EventContext) => {
          clearTimeout(timer);
          resolve(ctx.message);
        });
        receiver.once("receiver_error", () => {
          clearTimeout(timer);
          resolve(undefined);
        });
      });
    } finally {
      connection.close();
    }
  });
}

/** Every message id in a dead-letter queue (consumed), once the first one is there. */
async function drainDeadLetters(queue: string): Promise<string[]> {
  const ids = [String((await takeDeadLetter(queue))?.message_id)];
  const connection = await connectToBroker(app);
  try {
    const receiver = connection.open_receiver({ source: { address: `DLQ::${queue}` }, credit_window: 100 });
    await new Promise<void>((resolve) => {
      let timer = setTimeout(resolve, 3_000);
      receiver.on("message", (ctx: EventContext) => {
        ids.push(String(ctx.message?.message_id));
        clearTimeout(timer);
        timer = setTimeout(resolve, 3_000);
      });
    });
  } finally {
    connection.close();
  }
  return ids;
}

describe("receiver batches", () => {
  it("applies the neighbours of a poison message once and dead-letters the poison", async () => {
    // The receiver's database refuses this name: a data error inside the batch transaction.
    await receiverOwner.query(
      "ALTER TABLE received_items ADD CONSTRAINT test_batch_poison CHECK (name <> 'refuse-me') NOT VALID",
    );
    cleanups.push(async () => {
      await receiverOwner.query("ALTER TABLE received_items DROP CONSTRAINT test_batch_poison");
    });
    const gate = created("gate");
    const neighbours = [created(), created(), created(), created()];
    const poison = created("refuse-me");
    const batch = [neighbours[0]!, neighbours[1]!, poison, neighbours[2]!, neighbours[3]!];
    await send([gate]);
    const { consumer, batches, gateRunning } = startConsumer({ expected: 6, gate: String(gate.message_id) });
    await gateRunning;
    await send(batch);
    await eventually("all six settled", () =>
      Promise.resolve(consumer.counters.processed + consumer.counters.rejected === 6 ? true : undefined),
    );

    // The poison was in one batch with its neighbours, and that batch fell back to one by one.
    expect(batches).toEqual([[gate.message_id], batch.map((m) => m.message_id)]);
    expect(consumer.counters).toMatchObject({ processed: 5, rejected: 1, duplicates: 0, batchFallbacks: 1 });
    for (const message of [gate, ...neighbours]) {
      expect(
        await count("select count(*) as n from received_items where message_id = $1", [message.message_id]),
      ).toBe(1);
    }
    expect(await count("select count(*) as n from inbox where message_id = $1", [poison.message_id])).toBe(0);
    // Only the poison: each delivery was settled with its own outcome.
    expect(await drainDeadLetters(DLQ)).toEqual([poison.message_id]);
  });

  it("settles an unparseable message between two applied neighbours with its own outcome", async () => {
    const gate = created("gate");
    const garbage: Message = { message_id: randomUUID(), durable: true, body: "{not json" };
    const batch = [created(), garbage, created()];
    await send([gate]);
    // The unparseable one never joins a batch (below): a short linger cuts its neighbours' batch.
    const { consumer, batches, gateRunning } = startConsumer({
      expected: 4,
      gate: String(gate.message_id),
      lingerMs: 500,
    });
    await gateRunning;
    await send(batch);
    await eventually("all four settled", () =>
      Promise.resolve(consumer.counters.processed + consumer.counters.rejected === 4 ? true : undefined),
    );

    // The transport rejected the unparseable one on arrival: its neighbours formed the batch alone,
    // committed as one (the unparseable one never entered the transaction).
    expect(batches).toEqual([[gate.message_id], [batch[0]?.message_id, batch[2]?.message_id]]);
    expect(consumer.counters).toMatchObject({ processed: 3, rejected: 1, batches: 2, batchFallbacks: 0 });
    // rhea would give a reject right after an accept the accept's outcome if both were settled in
    // one tick: the poison must be in the DLQ, and its neighbours must not.
    expect(await drainDeadLetters(DLQ)).toEqual([garbage.message_id]);
  });

  it("applies two versions of one aggregate in one batch, in order", async () => {
    const gate = created("gate");
    const first = created("v1");
    const aggregate = first.group_id as string;
    const batch = [first, updated(aggregate, 2), created(), updated(aggregate, 3)];
    await send([gate]);
    const { consumer, batches, gateRunning } = startConsumer({ expected: 5, gate: String(gate.message_id) });
    await gateRunning;
    await send(batch);
    await eventually("all five applied", () =>
      Promise.resolve(consumer.counters.processed === 5 ? true : undefined),
    );

    expect(batches).toEqual([[gate.message_id], batch.map((m) => m.message_id)]);
    // Committed as one batch: no version gap, no fallback.
    expect(consumer.counters).toMatchObject({ batches: 2, batchFallbacks: 0, failed: 0 });
    const versions = await receiverOwner.query<{ version: number }>(
      "select version from received_item_versions where entity_id = $1 order by seq",
      [aggregate],
    );
    expect(versions.rows.map((r) => r.version)).toEqual([1, 2, 3]);
    expect(
      await count("select count(*) as n from received_items where id = $1 and version = 3 and name = 'v3'", [
        aggregate,
      ]),
    ).toBe(1);
  });

  it("defers a version gap on its own: its batch neighbours commit, the consumer never pauses", async () => {
    const gate = created("gate");
    const aggregate = gate.group_id as string;
    // v3 comes before v2 in the batch: a gap when it is applied; v2 in the same batch then applies.
    const early = updated(aggregate, 3);
    const batch = [created("b"), early, created("c"), updated(aggregate, 2)];
    await send([gate]);
    const { consumer, batches, gateRunning } = startConsumer({ expected: 5, gate: String(gate.message_id) });
    await gateRunning;
    await send(batch);
    await eventually("the gate, both neighbours and both versions applied", () =>
      Promise.resolve(consumer.counters.processed === 5 ? true : undefined),
    );

    // Precondition: the gap happened, inside the batch (not after a fallback), and v3 came back alone.
    expect(batches).toEqual([[gate.message_id], batch.map((m) => m.message_id), [early.message_id]]);
    expect(consumer.counters).toMatchObject({ failed: 1, rejected: 0, batches: 3, batchFallbacks: 0 });
    // A version gap is no outage: credit kept flowing, nothing waited for a database probe.
    expect(consumer.counters.pauses).toBe(0);
    const versions = await receiverOwner.query<{ version: number }>(
      "select version from received_item_versions where entity_id = $1 order by seq",
      [aggregate],
    );
    expect(versions.rows.map((r) => r.version)).toEqual([1, 2, 3]);
    // The deferred message left no inbox row behind before its redelivery applied it: one row now.
    expect(await count("select count(*) as n from inbox where message_id = $1", [early.message_id])).toBe(1);
  });

  it("skips a batch redelivered after a crash between commit and settlement, counting the duplicates", async () => {
    const gate = created("gate");
    const batch = [created(), created(), created(), created(), created()];
    const ids = [gate, ...batch].map((m) => String(m.message_id));
    // The first consumer commits, then "dies" before it settles: its follow-up never returns and
    // its connection goes away.
    let release: () => void = () => {};
    const stuck = new Promise<void>((resolve) => {
      release = resolve;
    });
    await send([gate]);
    const first = startConsumer({
      expected: 6,
      gate: ids[0],
      receipts: true,
      publishReceipt: () => stuck.then(() => ({ kind: "unknown", reason: "gone" })),
    });
    await first.gateRunning;
    await send(batch);
    await eventually("the whole batch committed", async () =>
      (await count("select count(*) as n from inbox where message_id = any($1)", [ids])) === 6
        ? true
        : undefined,
    );
    expect(first.batches).toEqual([[ids[0]], ids.slice(1)]);
    await first.transport.amqp.close();
    release();

    // The redeliveries arrive in any grouping: no 60 s linger for a batch that will not fill up.
    const second = startConsumer({ expected: 6, lingerMs: 5 });
    await eventually("all six redelivered", () =>
      Promise.resolve(second.consumer.counters.duplicates === 6 ? true : undefined),
    );
    expect(second.consumer.counters).toMatchObject({ processed: 0, duplicates: 6, failed: 0, rejected: 0 });
    expect(await count("select count(*) as n from received_items where message_id = any($1)", [ids])).toBe(6);
    await eventually("the duplicates recorded", async () =>
      (await count("select count(*) as n from duplicate_deliveries where message_id = any($1)", [ids])) === 6
        ? true
        : undefined,
    );
  });
});

// --- receipts ----------------------------------------------------------------------------------

/** Outbox rows in the sender's database, `published`, waiting for their receipts. */
async function publishedOutboxRows(ids: string[]): Promise<void> {
  await senderPool.query(
    `insert into outbox_messages (id, aggregate_type, aggregate_id, type, version, destination, payload,
                                  status, published_at)
     select id, 'EntityItem', id::text, 'EntityItemCreated', 1, 'entity-items', '{}'::jsonb, 'published', now()
       from unnest($1::uuid[]) as id`,
    [ids],
  );
}

async function deliveredRows(ids: string[]): Promise<number> {
  const result = await senderPool.query<{ n: string }>(
    "select count(*) as n from outbox_messages where id = any($1) and status = 'delivered' and delivered_at is not null",
    [ids],
  );
  return Number(result.rows[0]?.n);
}

async function waitForDelivered(ids: string[]): Promise<void> {
  await eventually(`${ids.length} outbox rows delivered`, async () =>
    (await deliveredRows(ids)) === ids.length ? true : undefined,
  );
}

/** The broker's own count of messages routed to the receipts queue (duplicates it dropped are not). */
async function receiptsAdded(): Promise<number> {
  const management = new BrokerManagement(broker);
  try {
    return Number(await management.call(`queue.${RECEIPTS}`, "getMessagesAdded"));
  } finally {
    management.close();
  }
}

/** A receipt publisher to RECEIPTS on a transport of its own, as the inbox consumer uses one. */
function startPublisher(): { publisher: ReceiptPublisher; transport: ArtemisTransport } {
  const transport = testTransport();
  const publisher = transport.receiptPublisher({
    destination: RECEIPTS,
    name: "receipts",
    sendTimeoutMs: 5_000,
  });
  cleanups.push(() => publisher.close());
  transport.open();
  publisher.start();
  return { publisher, transport };
}

/** The sender's receipt consumer on RECEIPTS; `db` lets a test count its statements. */
function startReceiptConsumer(db = createSenderDatabase(senderPool)): RunningReceiptConsumer {
  const transport = testTransport();
  transport.open();
  const consumer = outbox.startReceiptConsumer({
    transport,
    source: `${RECEIPTS}::${RECEIPTS}`,
    db,
    logger,
    maxInFlight: 32,
    probe: () => Promise.resolve(true),
  });
  cleanups.push(() => consumer.stop());
  return consumer;
}

/**
 * A gate message and `n` more, their outbox rows `published` and waiting for receipts, and the
 * receipts queue's count before any of them is applied.
 */
async function gatedMessagesAwaitingReceipts(n: number) {
  const gate = created("gate");
  const rest = Array.from({ length: n }, () => created());
  const ids = [gate, ...rest].map((m) => String(m.message_id));
  await publishedOutboxRows(ids);
  return { gate, rest, ids, addedBefore: await receiptsAdded() };
}

describe("receipts per batch", () => {
  it("sends one receipt per applied batch: fewer receipts than messages, every row delivered", async () => {
    const { gate, rest, ids, addedBefore } = await gatedMessagesAwaitingReceipts(8);
    startReceiptConsumer();

    await send([gate]);
    const { consumer, batches, gateRunning } = startConsumer({
      expected: ids.length,
      gate: ids[0],
      receipts: true,
    });
    await gateRunning;
    await send(rest);
    await waitForDelivered(ids);

    // Two batches (the gate alone, then the other eight): two receipts on the broker for nine messages.
    expect(batches).toEqual([[ids[0]], ids.slice(1)]);
    expect(consumer.counters).toMatchObject({ processed: 9, failed: 0, duplicates: 0 });
    expect((await receiptsAdded()) - addedBefore).toBe(2);
  });

  it("redelivers a batch whose receipt cannot be sent, then marks every row delivered; nothing applied twice", async () => {
    const { gate, rest, ids, addedBefore } = await gatedMessagesAwaitingReceipts(5);
    // The receipts cannot go out (as with the broker link down): every receipt's outcome is unknown.
    let receiptsDown = true;
    startReceiptConsumer();

    await send([gate]);
    const { consumer, gateRunning } = startConsumer({
      expected: ids.length,
      gate: ids[0],
      receipts: true,
      publishReceipt: (publish) =>
        receiptsDown
          ? Promise.resolve({ kind: "unknown", reason: "broker not connected", notSent: true })
          : publish(),
      // The redeliveries come in any grouping: no long wait for a batch that will not fill up.
      lingerMs: 5,
    });
    await gateRunning;
    await send(rest);
    // Every message committed, and the deliveries were retried (not accepted) as their receipts failed.
    await eventually("every message committed and its delivery retried", async () =>
      consumer.counters.failed >= ids.length &&
      (await count("select count(*) as n from inbox where message_id = any($1)", [ids])) === ids.length
        ? true
        : undefined,
    );
    expect(consumer.counters).toMatchObject({ processed: 0, rejected: 0 });
    expect(await deliveredRows(ids)).toBe(0);
    expect((await receiptsAdded()) - addedBefore).toBe(0);

    // The receipts can go out again: the redeliveries are duplicates for the inbox and send them.
    receiptsDown = false;
    await waitForDelivered(ids);
    await eventually("every redelivery accepted as a duplicate", () =>
      Promise.resolve(consumer.counters.duplicates === ids.length ? true : undefined),
    );
    expect(consumer.counters).toMatchObject({ processed: 0, rejected: 0 });
    expect(await count("select count(*) as n from received_items where message_id = any($1)", [ids])).toBe(
      ids.length,
    );
    expect(await count("select count(*) as n from inbox where message_id = any($1)", [ids])).toBe(ids.length);
    const added = (await receiptsAdded()) - addedBefore;
    expect(added).toBeGreaterThanOrEqual(1);
    expect(added).toBeLessThanOrEqual(ids.length);
  });

  it("marks every row of version 1 and version 2 receipts delivered, in few UPDATEs", async () => {
    const senderDb = createSenderDatabase(senderPool);
    const ids = Array.from({ length: 12 }, () => randomUUID());
    const v1Id = randomUUID();
    await publishedOutboxRows([...ids, v1Id]);
    // Three batch receipts of four rows, as the receiver sends them now…
    const { publisher } = startPublisher();
    const outcomes = await Promise.all(
      [0, 4, 8].map((i) => {
        const batch = ids.slice(i, i + 4);
        const body = buildReceiptBody(
          "receiver",
          batch.map((id) => ({ messageId: id, aggregateId: id, result: "applied" })),
          new Date(),
        );
        return publisher.publish(receiptId("receiver", batch), body, {});
      }),
    );
    expect(outcomes).toEqual([0, 4, 8].map(() => ({ kind: "accepted" })));
    // …and one version 1 receipt, as a receiver before batch receipts sent it (still queued after
    // an upgrade).
    await sendAndConfirm(broker, RECEIPTS, versionOneReceipt(v1Id));

    // Count the statements the receipt consumer runs.
    let statements = 0;
    const counted = new Proxy(senderDb, {
      get(target, property, receiver) {
        if (property === "execute") statements += 1;
        return Reflect.get(target, property, receiver) as unknown;
      },
    });
    const consumer = startReceiptConsumer(counted);

    await waitForDelivered([...ids, v1Id]);
    // Four receipt messages, thirteen rows: at most one statement per receipt message.
    expect(statements).toBeGreaterThan(0);
    expect(statements).toBeLessThanOrEqual(4);
    expect(consumer.healthCheck()()).toMatchObject({ data: { delivered: 13, unmatched: 0, failed: 0 } });
  });
});
