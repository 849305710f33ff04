// The Kafka transport's own integration tests, for what the contract suite does not cover: a
// rebalance while messages flow, the retry tiers' delays and their end in the dead letters, the
// in-flight limit, and concurrent sends through one idempotent producer. A real Kafka (KRaft,
// process mode) started by the AppHost harness.
import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { OutgoingEnvelope } from "../messaging/src/contracts/envelope.js";
import type { Settlement } from "../messaging/src/inbox/batch-consumer.js";
import type { ReadRecord } from "../messaging/src/transports/kafka/record.js";
import type { InboundMessage, Transport, TransportConsumer } from "../messaging/src/transport/transport.js";
import type { IncomingEnvelope } from "@outbox/messaging";
import { startKafkaTestBroker, type KafkaTestBroker } from "./support/kafka-transport-harness.js";

const GROUP = "g";
const TOPICS = {
  concurrent: "kt-concurrent",
  rebalance: "kt-rebalance",
  tiers: "kt-tiers",
  limit: "kt-limit",
  restart: "kt-restart",
} as const;
const DELAYS = [1_000, 2_000];

function envelope(key: string, payload: unknown): OutgoingEnvelope {
  return {
    id: randomUUID(),
    type: "KafkaTest",
    version: 1,
    aggregateId: key,
    payload,
    createdAt: new Date(),
    ordered: true,
    priority: 4,
    deliverAt: null,
    trace: {},
  };
}

async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("Kafka transport", () => {
  let broker: KafkaTestBroker;
  let consumers: TransportConsumer[] = [];
  let transports: Transport[] = [];

  beforeAll(async () => {
    broker = await startKafkaTestBroker(
      "kafka-transport",
      { destinations: Object.values(TOPICS).map((name) => ({ name, groups: [GROUP] })) },
      DELAYS,
    );
  });

  afterEach(async () => {
    await Promise.allSettled(consumers.map((c) => c.stop()));
    await Promise.allSettled(transports.map((t) => t.close()));
    consumers = [];
    transports = [];
  });

  afterAll(async () => {
    await broker?.close();
  });

  function open(role: string): Transport {
    const transport = broker.transport(`${role}-${randomUUID().slice(0, 8)}`);
    transports.push(transport);
    transport.open();
    return transport;
  }

  async function publisherFor(topic: string): Promise<ReturnType<Transport["publisher"]>> {
    const publisher = open("producer").publisher({ destination: topic, name: "test", sendTimeoutMs: 15_000 });
    publisher.start();
    expect(await publisher.waitUntilSendable(60_000, new AbortController().signal)).toBe(true);
    return publisher;
  }

  function consume(
    transport: Transport,
    source: string,
    handle: (batch: readonly InboundMessage<IncomingEnvelope>[]) => Promise<readonly Settlement[]>,
    options: { maxInFlight?: number; batchSize?: number } = {},
  ): TransportConsumer {
    const consumer = transport.consumer<"event", Settlement>({
      contract: "event",
      source,
      group: GROUP,
      maxInFlight: options.maxInFlight ?? 16,
      batchSize: options.batchSize ?? 4,
      lingerMs: 5,
      stopTimeoutMs: 2_000,
      handle,
    });
    consumers.push(consumer);
    consumer.start();
    return consumer;
  }

  it("concurrent sends: every publish answered accepted is on the topic", async () => {
    const publisher = await publisherFor(TOPICS.concurrent);
    // One key: every send goes to the same partition, where sequence numbers would collide.
    const sent = Array.from({ length: 30 }, (_, i) => envelope("same-key", { i }));
    const outcomes = await Promise.all(sent.map((e) => publisher.publish(e)));
    expect(outcomes.every((o) => o.kind === "accepted")).toBe(true);
    await publisher.close();
    await until("30 records on the topic", async () => (await broker.lag(TOPICS.concurrent, GROUP)) === 30);
  });

  it("a second consumer joining mid-stream: every message handled, none lost, duplicates only redeliveries", async () => {
    const publisher = await publisherFor(TOPICS.rebalance);
    const total = 90;
    const sent = Array.from({ length: total }, (_, i) => envelope(`k${i % 9}`, { i }));
    const byFirst: string[] = [];
    const bySecond: string[] = [];
    const slowly =
      (into: string[]) =>
      async (batch: readonly InboundMessage<IncomingEnvelope>[]): Promise<Settlement[]> => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        into.push(...batch.map((m) => m.messageId));
        return batch.map(() => ({ action: "accept" }));
      };
    consume(open("first"), TOPICS.rebalance, slowly(byFirst), { maxInFlight: 8, batchSize: 2 });
    // Messages keep coming while the group rebalances.
    const publishing = (async () => {
      for (const e of sent) {
        expect((await publisher.publish(e)).kind).toBe("accepted");
        await new Promise((resolve) => setTimeout(resolve, 15));
      }
    })();
    await until("the first consumer to handle a third", () => byFirst.length >= total / 3);
    consume(open("second"), TOPICS.rebalance, slowly(bySecond), { maxInFlight: 8, batchSize: 2 });
    await publishing;
    const ids = new Set(sent.map((e) => e.id));
    await until(
      "every message handled",
      () => [...ids].every((id) => byFirst.includes(id) || bySecond.includes(id)),
      90_000,
    );
    // The precondition of the scenario: the second member really took partitions.
    expect(bySecond.length, "messages handled by the member that joined").toBeGreaterThan(0);
    for (const id of [...byFirst, ...bySecond]) expect(ids.has(id), `unknown message ${id}`).toBe(true);
    await until("the group's lag to drain", async () => (await broker.lag(TOPICS.rebalance, GROUP)) === 0);
  });

  it("retry tiers wait for their due time (paused, not sleeping) and end in the dead letters", async () => {
    const transport = open("tiers");
    const publisher = await publisherFor(TOPICS.tiers);
    const sent = envelope("t", { n: 1 });
    const handed: Array<{ attempt: number; at: number; record: ReadRecord }> = [];
    consume(transport, TOPICS.tiers, (batch) => {
      for (const m of batch)
        handed.push({ attempt: m.attempt, at: Date.now(), record: m.native as ReadRecord });
      return Promise.resolve(batch.map(() => ({ action: "retry", reason: "tiers: still failing" })));
    });
    expect((await publisher.publish(sent)).kind).toBe("accepted");
    await until("the third attempt", () => handed.length >= 3);
    expect(handed.map((h) => h.attempt)).toEqual([1, 2, 3]);
    expect(handed.map((h) => h.record.topic)).toEqual([
      TOPICS.tiers,
      `${TOPICS.tiers}.${GROUP}.retry-1`,
      `${TOPICS.tiers}.${GROUP}.retry-2`,
    ]);
    for (const tier of [1, 2]) {
      const { at, record } = handed[tier]!;
      const dueAt = Number(record.headers["due-at"]);
      const delay = DELAYS[tier - 1]!;
      // Not before the due time (decided at the retry: our clock, exact) ...
      expect(at, `attempt ${tier + 1} handed out before its due time`).toBeGreaterThanOrEqual(dueAt);
      // ... which is the tier's delay after the record was written to the tier (the broker's
      // timestamp; the produce follows the retry decision by a few ms on a busy machine).
      expect(at - record.timestamp, `attempt ${tier + 1}: time on the tier`).toBeGreaterThanOrEqual(
        delay - 500,
      );
      expect(at - dueAt, `attempt ${tier + 1} handed out long after its due time`).toBeLessThan(3_000);
    }
    const deadLetters = transport.deadLetters(TOPICS.tiers, GROUP);
    await until("the dead letter", async () => (await deadLetters.count()) === 1);
    const [entry] = await deadLetters.browse(10);
    expect(entry).toMatchObject({
      messageId: sent.id,
      reason: "tiers: still failing",
      origin: { destination: TOPICS.tiers, group: GROUP },
    });
    expect(entry?.properties).toMatchObject({
      attempt: "3",
      "origin-topic": TOPICS.tiers,
      "origin-group": GROUP,
    });
    // Three attempts in all: nothing is handed out again after the dead letter.
    expect(handed).toHaveLength(3);
    await until("the group's lag to drain", async () => (await broker.lag(TOPICS.tiers, GROUP)) === 0);
  });

  it("keeps publishing and consuming across a broker restart", async () => {
    const publisher = await publisherFor(TOPICS.restart);
    const handled = new Set<string>();
    consume(open("restart"), TOPICS.restart, (batch) => {
      for (const m of batch) handled.add(m.messageId);
      return Promise.resolve(batch.map(() => ({ action: "accept" })));
    });
    // As the relay does: an outcome other than accepted is sent again.
    const publishUntilAccepted = async (e: OutgoingEnvelope): Promise<void> => {
      for (;;) {
        const outcome = await publisher.publish(e);
        if (outcome.kind === "accepted") return;
        expect(outcome.kind, JSON.stringify(outcome)).toBe("unknown");
        await publisher.waitUntilSendable(5_000, new AbortController().signal);
      }
    };
    const before = Array.from({ length: 10 }, (_, i) => envelope(`r${i}`, { i }));
    for (const e of before) await publishUntilAccepted(e);
    await until("the messages before the restart", () => before.every((e) => handled.has(e.id)));
    await broker.restart();
    const after = Array.from({ length: 10 }, (_, i) => envelope(`r${i}`, { i: i + 10 }));
    for (const e of after) await publishUntilAccepted(e);
    await until("the messages after the restart", () => after.every((e) => handled.has(e.id)), 120_000);
    await until("the group's lag to drain", async () => (await broker.lag(TOPICS.restart, GROUP)) === 0);
  });

  it("never has more than maxInFlight records in handle at once", async () => {
    const publisher = await publisherFor(TOPICS.limit);
    const sent = Array.from({ length: 60 }, (_, i) => envelope(`key-${i}`, { i }));
    for (const e of sent) expect((await publisher.publish(e)).kind).toBe("accepted");
    await until("the backlog", async () => (await broker.lag(TOPICS.limit, GROUP)) === sent.length);
    const maxInFlight = 4;
    let inHandle = 0;
    let most = 0;
    let handled = 0;
    let mostReported = 0;
    const consumer: TransportConsumer = consume(
      open("limit"),
      TOPICS.limit,
      async (batch) => {
        inHandle += batch.length;
        most = Math.max(most, inHandle);
        mostReported = Math.max(mostReported, consumer.state().inFlight);
        await new Promise((resolve) => setTimeout(resolve, 30));
        inHandle -= batch.length;
        handled += batch.length;
        return batch.map(() => ({ action: "accept" }));
      },
      { maxInFlight, batchSize: 1 },
    );
    await until("every message", () => handled >= sent.length);
    // The limit was reached (the precondition) and never passed.
    expect(most).toBe(maxInFlight);
    expect(mostReported).toBeLessThanOrEqual(maxInFlight);
    await until("the group's lag to drain", async () => (await broker.lag(TOPICS.limit, GROUP)) === 0);
  });
});
