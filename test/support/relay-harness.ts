// In-process outbox relays against the database and broker of a started test app, plus a plain
// rhea consumer to count what actually reached a queue (the broker side, not the outbox table).
import { AmqpConnection } from "@outbox/messaging";
import { randomUUID } from "node:crypto";
import type { AppBuilder, ArtemisResource } from "@outbox/apphost";
import { buildApp } from "../../apphost.js";
import { createLogger } from "@outbox/service-defaults";
import pg from "pg";
import type { EventContext, Message } from "rhea";
import { createDatabase, createPool, type Database } from "../../sender-service/src/data/db.js";
import { createRelayPool } from "../../sender-service/src/data/relay-pool.js";
import { insertOutboxMessage, type OutboxSendOptions } from "../../sender-service/src/data/outbox.js";
import { AmqpPublisher } from "../../messaging/src/transports/artemis/publisher.js";
import { OutboxListener } from "../../sender-service/src/messaging/outbox-listener.js";
import { OutboxRelay, type RelayPublisher } from "../../sender-service/src/messaging/outbox-relay.js";
import { v7 as uuidv7 } from "uuid";

/**
 * Queues the relay tests and the bench publish to (the AppHost's broker refuses unknown addresses,
 * so each one is declared). The app's own relay serves only "entity-items" and never claims these.
 */
export const RELAY_TEST_QUEUES = Array.from({ length: 12 }, (_, i) => `relay-test-${i + 1}`);

/** An address that is full after its first message and rejects every further send. */
export const FULL_QUEUE = "relay-test-full";

/** This repository's model plus the relay test queues. */
export function relayTestModel(): AppBuilder {
  const model = buildApp();
  const broker = model.resources().find((r) => r.kind === "artemis") as ArtemisResource | undefined;
  if (broker === undefined) throw new Error("the model has no Artemis broker");
  for (const queue of RELAY_TEST_QUEUES) broker.addQueue(queue);
  // Holds about one message; then the broker REJECTS every send (address full, FAIL policy):
  // a real refusal by Artemis, not one injected in the client.
  broker.addQueue(FULL_QUEUE, { maxSizeBytes: 1, addressFullMessagePolicy: "FAIL" });
  return model;
}

export const logger = createLogger("relay-test", process.env.APPHOST_TEST_LOGS === "1" ? "info" : "error");

export interface RelayHandle {
  relay: OutboxRelay;
  owner: string;
  stop(): Promise<void>;
}

export interface RelayHarnessOptions {
  databaseUrl: string;
  brokerUrl: string;
  destination: string;
  owner?: string;
  batchSize?: number;
  concurrency?: number;
  leaseMs?: number;
  pollIntervalMs?: number;
  maxAttempts?: number;
  deadBlocksAggregate?: boolean;
  /** LISTEN for commits (default true). */
  listen?: boolean;
  /** Wraps the real publisher, e.g. to inject failures. */
  wrapPublisher?: (real: RelayPublisher) => RelayPublisher;
}

/** Starts one relay (its own pool, AMQP connection, link and LISTEN connection). */
export function startRelay(opts: RelayHarnessOptions): RelayHandle {
  const owner = opts.owner ?? `test-relay-${randomUUID().slice(0, 8)}`;
  // The relay's own pool, as in the sender (async commit).
  const pool = createRelayPool({
    url: opts.databaseUrl,
    max: 4,
    applicationName: owner,
    synchronousCommit: false,
    onError: () => undefined,
  });
  const db = createDatabase(pool);
  const amqp = new AmqpConnection({ url: opts.brokerUrl, containerId: owner, logger });
  const publisher = new AmqpPublisher({
    amqp,
    address: opts.destination,
    linkName: `outbox-${owner}`,
    sendTimeoutMs: 5_000,
    logger,
  });
  const relay = new OutboxRelay({
    db,
    publisher: opts.wrapPublisher ? opts.wrapPublisher(publisher) : publisher,
    owner,
    destination: opts.destination,
    batchSize: opts.batchSize ?? 50,
    concurrency: opts.concurrency ?? 2,
    leaseMs: opts.leaseMs ?? 15_000,
    pollIntervalMs: opts.pollIntervalMs ?? 1_000,
    sendTimeoutMs: 5_000,
    backoff: { minMs: 50, maxMs: 500 },
    maxAttempts: opts.maxAttempts ?? 1_000,
    deadBlocksAggregate: opts.deadBlocksAggregate ?? false,
    logger,
  });
  const listener =
    opts.listen === false
      ? undefined
      : new OutboxListener({
          databaseUrl: opts.databaseUrl,
          destination: opts.destination,
          onWake: () => relay.wake(),
          backoff: { minMs: 100, maxMs: 1_000 },
          logger,
        });
  amqp.open();
  publisher.start();
  relay.start();
  listener?.start();
  return {
    relay,
    owner,
    stop: async () => {
      await listener?.stop();
      await relay.stop();
      await amqp.close();
      await pool.end();
    },
  };
}

export interface TestRow {
  id: string;
  aggregateId: string;
}

/** Inserts `perAggregate` rows for each of `aggregates` aggregates, interleaved, one transaction per row. */
export async function insertRows(
  db: Database,
  destination: string,
  aggregates: number,
  perAggregate: number,
  options: OutboxSendOptions = {},
): Promise<TestRow[]> {
  const aggregateIds = Array.from({ length: aggregates }, () => randomUUID());
  const rows: TestRow[] = [];
  for (let n = 0; n < perAggregate; n++) {
    await Promise.all(
      aggregateIds.map(async (aggregateId) => {
        const id = uuidv7();
        rows.push({ id, aggregateId });
        await db.transaction((tx) =>
          insertOutboxMessage(
            tx,
            {
              id,
              aggregateType: "Test",
              aggregateId,
              type: "TestEvent",
              version: 1,
              destination,
              payload: { n },
            },
            options,
          ),
        );
      }),
    );
  }
  return rows;
}

/** A pool + drizzle handle for direct access in tests. */
export function openDatabase(url: string): { db: Database; pool: pg.Pool } {
  const pool = createPool({ url, max: 8, applicationName: "relay-test", onError: () => undefined });
  return { db: createDatabase(pool), pool };
}

export interface ReceivedMessage {
  id: string;
  aggregateId: string;
  receivedAt: number;
  message: Message;
}

/** Consumes a queue (anycast) with auto-accept and keeps everything it receives, in order. */
export class QueueDrain {
  readonly received: ReceivedMessage[] = [];
  private readonly amqp: AmqpConnection;

  constructor(brokerUrl: string, address: string) {
    this.amqp = new AmqpConnection({
      url: brokerUrl,
      containerId: `drain-${randomUUID().slice(0, 8)}`,
      logger,
    });
    const open = (): void => {
      const receiver = this.amqp.connection.open_receiver({
        source: { address, capabilities: ["queue"] },
        credit_window: 500,
      });
      receiver.on("message", (ctx: EventContext) => {
        const message = ctx.message as Message;
        const props = (message.application_properties ?? {}) as Record<string, unknown>;
        this.received.push({
          id: String(message.message_id),
          aggregateId: String(props.aggregate_id),
          receivedAt: Date.now(),
          message,
        });
      });
    };
    // rhea re-attaches links itself after a reconnect; attach once, on the first connect.
    let attached = false;
    this.amqp.on("connected", () => {
      if (attached) return;
      attached = true;
      open();
    });
    this.amqp.open();
  }

  /** Waits until at least `count` messages arrived (then `settleMs` more for strays), or the deadline. */
  async waitFor(count: number, timeoutMs: number, settleMs = 1_500): Promise<ReceivedMessage[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < count && Date.now() < deadline) await delay(100);
    await delay(settleMs);
    return this.received;
  }

  close(): Promise<void> {
    return this.amqp.close();
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Ids received more than once, and expected ids never received. */
export function exactlyOnceReport(
  expected: ReadonlyArray<{ id: string }>,
  received: ReadonlyArray<{ id: string }>,
): { missing: string[]; duplicates: string[]; unexpected: string[] } {
  const counts = new Map<string, number>();
  for (const r of received) counts.set(r.id, (counts.get(r.id) ?? 0) + 1);
  const expectedIds = new Set(expected.map((e) => e.id));
  return {
    missing: expected.filter((e) => !counts.has(e.id)).map((e) => e.id),
    duplicates: [...counts].filter(([, n]) => n > 1).map(([id]) => id),
    unexpected: [...counts.keys()].filter((id) => !expectedIds.has(id)),
  };
}

/**
 * Aggregates whose messages arrived out of insert order (rows: insertion order per aggregate,
 * as returned by insertRows, which inserts n=0 for every aggregate before n=1).
 */
export function outOfOrderAggregates(
  rows: ReadonlyArray<TestRow>,
  received: ReadonlyArray<ReceivedMessage>,
): string[] {
  const expectedOrder = new Map<string, string[]>();
  for (const r of rows) expectedOrder.set(r.aggregateId, [...(expectedOrder.get(r.aggregateId) ?? []), r.id]);
  const seen = new Map<string, string[]>();
  for (const m of received) seen.set(m.aggregateId, [...(seen.get(m.aggregateId) ?? []), m.id]);
  const bad: string[] = [];
  for (const [aggregateId, ids] of expectedOrder) {
    const got = (seen.get(aggregateId) ?? []).filter((id, i, all) => all.indexOf(id) === i);
    if (got.join() !== ids.join()) bad.push(aggregateId);
  }
  return bad;
}
