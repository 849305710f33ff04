import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { IncomingEnvelope, OutgoingEnvelope } from "../src/contracts/envelope.js";
import { buildReceiptBody, receiptId, type ReceiptMessage } from "../src/contracts/receipt.js";
import type { BatchContext, Settlement } from "../src/inbox/batch-consumer.js";
import type {
  ConsumerOptions,
  ContractName,
  Contracts,
  InboundMessage,
  TopologyDeclaration,
  Transport,
  TransportConsumer,
} from "../src/transport/transport.js";

/**
 * The transport contract: what every Transport must do, the same tests for each. A transport's
 * test file calls describeTransportContract with a setup that starts its broker, provisions the
 * topology the suite declares and returns a harness.
 */

/** Transport-specific access the suite needs beside the seam: injecting and counting. */
export interface RawBroker {
  /** Puts a message on `destination` that no producer of the event contract would write. */
  injectUndecodable(destination: string, messageId: string): Promise<void>;
  /** Messages of the group on the broker, not settled yet (handed out ones included), not dead-lettered. */
  backlog(source: string, group: string): Promise<number>;
}

export interface TransportContractHarness {
  /** A new, not yet opened transport (its own connection; `name` is unique per call). */
  transport(name: string): Transport;
  raw: RawBroker;
  /**
   * True when the broker itself drops a resend with the same id (Artemis `_AMQ_DUPL_ID`). False:
   * resends may arrive again, with the same messageId, for the inbox to drop (Kafka outside one
   * idempotent producer session); the suite then checks that instead.
   */
  dropsResends: boolean;
  /** Stops what setup started. */
  close(): Promise<void>;
}

/**
 * What the broker must have before the suite runs, with the settings the tests rely on: a
 * redelivery delay near 0 and at least 3 delivery attempts before dead-lettering.
 */
export type TransportContractSetup = (topology: TopologyDeclaration) => Promise<TransportContractHarness>;

const GROUP = "contract";
const RECEIPT_GROUP = "producer";
/** One destination per test, so that no test sees another's messages. */
const DESTINATIONS = {
  resend: "contract-resend",
  order: "contract-order",
  redelivery: "contract-redelivery",
  deadLetters: "contract-dead-letters",
  receipts: "contract-receipts",
  stopped: "contract-stopped",
  released: "contract-released",
  killed: "contract-killed",
  undecodable: "contract-undecodable",
} as const;

export const CONTRACT_TOPOLOGY: TopologyDeclaration = {
  destinations: Object.values(DESTINATIONS).map((name) => ({
    name,
    groups: [name === DESTINATIONS.receipts ? RECEIPT_GROUP : GROUP],
  })),
};

const WAIT_MS = 60_000;

/** Polls `check` until it returns a value; for state only reachable by asking (counts, listings). */
async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = WAIT_MS,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ""}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Every delivery a consumer handled, with a way to wait for the one a test expects. */
class Handled<T> {
  readonly all: InboundMessage<T>[] = [];
  private readonly waiters = new Set<() => void>();

  push(messages: readonly InboundMessage<T>[]): void {
    this.all.push(...messages);
    for (const wake of [...this.waiters]) wake();
  }

  /** Resolves once `predicate` holds over what was handled; rejects after the timeout. */
  until(what: string, predicate: (all: readonly InboundMessage<T>[]) => boolean): Promise<void> {
    if (predicate(this.all)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(wake);
        reject(new Error(`timed out waiting for ${what}; handled: ${this.describe()}`));
      }, WAIT_MS);
      const wake = (): void => {
        if (!predicate(this.all)) return;
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve();
      };
      this.waiters.add(wake);
    });
  }

  ids(): string[] {
    return this.all.map((m) => m.messageId);
  }

  private describe(): string {
    return JSON.stringify(this.all.map((m) => [m.messageId, m.attempt]));
  }
}

/** A deferred outcome: a handler that holds its batch until the test says so. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

function envelope(key: string, payload: unknown, id = randomUUID()): OutgoingEnvelope {
  return {
    id,
    type: "ContractEvent",
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

const accept: Settlement = { action: "accept" };

/** A W3C trace context a producer's span would write; every hop must hand it on unchanged. */
const TRACE = {
  traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
  tracestate: "outbox=contract",
};

export function describeTransportContract(name: string, setup: TransportContractSetup): void {
  describe(`transport contract: ${name}`, () => {
    let harness: TransportContractHarness;
    /** Closed after each test, consumers first: nothing a test opened outlives it. */
    let consumers: TransportConsumer[] = [];
    let transports: Transport[] = [];

    beforeAll(async () => {
      harness = await setup(CONTRACT_TOPOLOGY);
    });

    afterEach(async () => {
      await Promise.allSettled(consumers.map((c) => c.stop()));
      await Promise.allSettled(transports.map((t) => t.close()));
      consumers = [];
      transports = [];
    });

    afterAll(async () => {
      await harness?.close();
    });

    function openTransport(role: string): Transport {
      const transport = harness.transport(`${role}-${randomUUID().slice(0, 8)}`);
      transports.push(transport);
      transport.open();
      return transport;
    }

    /** Publishes and expects `accepted` for every envelope, in order. */
    async function publishAll(destination: string, envelopes: readonly OutgoingEnvelope[]): Promise<void> {
      const publisher = openTransport("producer").publisher({
        destination,
        name: `contract-${randomUUID().slice(0, 8)}`,
        sendTimeoutMs: 10_000,
      });
      publisher.start();
      try {
        expect(await publisher.waitUntilSendable(WAIT_MS, new AbortController().signal)).toBe(true);
        for (const e of envelopes)
          expect(await publisher.publish(e), `publish ${e.id}`).toEqual({ kind: "accepted" });
      } finally {
        await publisher.close();
      }
    }

    function consume<K extends ContractName>(
      transport: Transport,
      options: Partial<ConsumerOptions<K, Settlement>> & {
        contract: K;
        source: string;
        handle: (
          batch: readonly InboundMessage<Contracts[K]>[],
          context: BatchContext,
        ) => Promise<readonly Settlement[]>;
      },
    ): TransportConsumer {
      const consumer = transport.consumer<K, Settlement>({
        group: options.source === DESTINATIONS.receipts ? RECEIPT_GROUP : GROUP,
        maxInFlight: 10,
        batchSize: 1,
        lingerMs: 5,
        stopTimeoutMs: 2_000,
        ...options,
      });
      consumers.push(consumer);
      consumer.start();
      return consumer;
    }

    async function backlog(source: string, expected: number): Promise<void> {
      await waitFor(`${expected} message(s) waiting on ${source}`, async () =>
        (await harness.raw.backlog(source, GROUP)) === expected ? true : undefined,
      );
    }

    it("publishes once under resend: the same id sent N times is delivered once (or carries one messageId)", async () => {
      const source = DESTINATIONS.resend;
      const resent = envelope("k", { n: 1 });
      const sentinel = envelope("k", { n: 2 });
      await publishAll(source, [resent, resent, resent, resent, resent, sentinel]);
      if (harness.dropsResends) await backlog(source, 2);
      const handled = new Handled<IncomingEnvelope>();
      consume(openTransport("consumer"), {
        contract: "event",
        source,
        handle: (batch) => {
          handled.push(batch);
          return Promise.resolve(batch.map(() => accept));
        },
      });
      // Same key: every copy of `resent` is ahead of the sentinel.
      await handled.until("the sentinel", (all) => all.some((m) => m.messageId === sentinel.id));
      const copies = handled.all.filter((m) => m.value.messageId === resent.id);
      if (harness.dropsResends) expect(copies.map((m) => m.messageId)).toEqual([resent.id]);
      else expect(new Set(copies.map((m) => m.messageId))).toEqual(new Set([resent.id]));
      expect(copies.length).toBeGreaterThanOrEqual(1);
    });

    it("keeps order per key with batches, interleaved keys, and batches running in parallel", async () => {
      const source = DESTINATIONS.order;
      const keys = ["a", "b", "c", "d"];
      const perKey = 12;
      const envelopes = Array.from({ length: perKey }, (_, seq) =>
        keys.map((key) => envelope(key, { key, seq })),
      ).flat();
      await publishAll(source, envelopes);
      await backlog(source, envelopes.length);
      const finished = new Handled<IncomingEnvelope>();
      const batchSizes: number[] = [];
      let running = 0;
      let mostRunning = 0;
      consume(openTransport("consumer"), {
        contract: "event",
        source,
        maxInFlight: 16,
        batchSize: 3,
        lingerMs: 20,
        handle: async (batch) => {
          batchSizes.push(batch.length);
          running += 1;
          mostRunning = Math.max(mostRunning, running);
          // Uneven handling times: a later batch of a key finishing first would show up as disorder.
          await new Promise((resolve) => setTimeout(resolve, ((batchSizes.length * 7) % 4) * 15));
          running -= 1;
          finished.push(batch);
          return batch.map(() => accept);
        },
      });
      await finished.until("every message", (all) => all.length >= envelopes.length);
      expect(Math.max(...batchSizes), "batches of more than one delivery").toBeGreaterThan(1);
      expect(mostRunning, "batches ran in parallel").toBeGreaterThan(1);
      for (const key of keys) {
        const seqs = finished.all
          .filter((m) => m.value.aggregateId === key)
          .map((m) => (m.value.payload as { seq: number }).seq);
        expect(seqs, `order of key ${key}`).toEqual(Array.from({ length: perKey }, (_, i) => i));
      }
    });

    it("redelivers a delivery settled as retry, with attempt + 1 and its trace context", async () => {
      const source = DESTINATIONS.redelivery;
      const sent = { ...envelope("k", { n: 1 }), trace: TRACE };
      await publishAll(source, [sent]);
      await backlog(source, 1);
      const handled = new Handled<IncomingEnvelope>();
      consume(openTransport("consumer"), {
        contract: "event",
        source,
        handle: (batch) => {
          handled.push(batch);
          return Promise.resolve(
            batch.map((m): Settlement =>
              m.attempt === 1 ? { action: "retry", reason: "contract: try again" } : accept,
            ),
          );
        },
      });
      await handled.until("the redelivery", (all) => all.length >= 2);
      expect(handled.all.map((m) => [m.messageId, m.attempt])).toEqual([
        [sent.id, 1],
        [sent.id, 2],
      ]);
      // The consumer's span continues the producer's trace, on the first delivery and the retry.
      for (const m of handled.all) expect(m.trace).toEqual(TRACE);
      await backlog(source, 0);
    });

    it("dead-letters a rejected delivery: browse shows it, replay returns it, remove deletes it", async () => {
      const source = DESTINATIONS.deadLetters;
      const transport = openTransport("consumer");
      const deadLetters = transport.deadLetters(source, GROUP);
      try {
        expect(await waitFor("the dead letters answer", async () => deadLetters.count())).toBe(0);
        const poison = envelope("p", { n: 1 });
        const doomed = envelope("q", { n: 2 });
        const fine = envelope("f", { n: 3 });
        await publishAll(source, [poison, doomed, fine]);
        await backlog(source, 3);
        let rejecting = new Set([poison.id, doomed.id]);
        const handled = new Handled<IncomingEnvelope>();
        consume(transport, {
          contract: "event",
          source,
          handle: (batch) => {
            handled.push(batch);
            return Promise.resolve(
              batch.map((m): Settlement =>
                rejecting.has(m.messageId) ? { action: "reject", reason: "contract: poison" } : accept,
              ),
            );
          },
        });
        await handled.until("all three", (all) => all.length >= 3);
        await waitFor("two dead letters", async () => ((await deadLetters.count()) === 2 ? true : undefined));
        const listed = await deadLetters.browse(10);
        expect(listed.map((l) => l.messageId).sort()).toEqual([poison.id, doomed.id].sort());
        const entry = listed.find((l) => l.messageId === poison.id)!;
        expect(entry).toMatchObject({
          type: "ContractEvent",
          version: 1,
          key: "p",
          origin: { destination: source, group: GROUP },
        });
        expect(await deadLetters.browse(1)).toHaveLength(1);

        // Replay: back to the group, handled again (accepted this time), gone from the dead letters.
        rejecting = new Set([doomed.id]);
        expect(await deadLetters.replay(entry.id)).toBe(true);
        await handled.until(
          "the replayed message",
          (all) => all.filter((m) => m.messageId === poison.id).length === 2,
        );
        await waitFor("one dead letter left", async () =>
          (await deadLetters.count()) === 1 ? true : undefined,
        );

        // Remove: gone for good; a second remove or replay finds nothing.
        const [left] = await deadLetters.browse(10);
        expect(left?.messageId).toBe(doomed.id);
        expect(await deadLetters.remove(left!.id)).toBe(true);
        expect(await deadLetters.count()).toBe(0);
        expect(await deadLetters.remove(left!.id)).toBe(false);
        expect(await deadLetters.replay(left!.id)).toBe(false);
        await backlog(source, 0);
        expect(handled.all.filter((m) => m.messageId === doomed.id)).toHaveLength(1);
      } finally {
        await deadLetters.close();
      }
    });

    it("carries receipts: what the receipt publisher sends (with its trace context), the receipt consumer decodes", async () => {
      const source = DESTINATIONS.receipts;
      const transport = openTransport("receipts");
      const publisher = transport.receiptPublisher({
        destination: source,
        name: "contract-receipts",
        sendTimeoutMs: 10_000,
      });
      publisher.start();
      const applied = [randomUUID(), randomUUID()];
      const body = buildReceiptBody(
        "consumers",
        applied.map((messageId) => ({ messageId, aggregateId: "k", result: "applied" })),
        new Date(),
      );
      const id = receiptId("consumers", applied);
      try {
        expect(await publisher.publish(id, body, TRACE)).toEqual({ kind: "accepted" });
      } finally {
        await publisher.close();
      }
      const handled = new Handled<ReceiptMessage>();
      consume(openTransport("producer"), {
        contract: "receipt",
        source,
        handle: (batch) => {
          handled.push(batch);
          return Promise.resolve(batch.map(() => accept));
        },
      });
      await handled.until("the receipt", (all) => all.length >= 1);
      const [receipt] = handled.all;
      expect(receipt?.messageId).toBe(id);
      expect(receipt?.value).toMatchObject({ version: 2, group: "consumers" });
      expect(receipt?.value.receipts.map((r) => r.messageId)).toEqual(applied);
      expect(receipt?.trace).toEqual(TRACE);
    });

    // stopped: stop() with its budget run out (the link detach gives the deliveries back);
    // released: the same with releaseOnStopTimeout (the consumer gives them back itself before the
    // detach; Artemis counts no attempt either way, so only "nothing lost" tells); killed: the connection
    // closes under the consumer.
    for (const how of ["stopped", "released", "killed"] as const) {
      it(`loses nothing when a consumer is ${how} with deliveries unsettled: the next one gets them`, async () => {
        const source = DESTINATIONS[how];
        const envelopes = Array.from({ length: 6 }, (_, i) => envelope(`k${i % 2}`, { i }));
        await publishAll(source, envelopes);
        await backlog(source, envelopes.length);
        const first = openTransport("first");
        const held = new Handled<IncomingEnvelope>();
        const hold = gate();
        const consumer = consume(first, {
          contract: "event",
          source,
          batchSize: 3,
          maxInFlight: 6,
          stopTimeoutMs: 200,
          releaseOnStopTimeout: how === "released",
          handle: async (batch) => {
            held.push(batch);
            await hold.promise;
            return batch.map(() => accept);
          },
        });
        await held.until("a batch in the first consumer's hands", (all) => all.length > 0);
        expect(consumer.state().inFlight, "deliveries unsettled at the kill").toBeGreaterThan(0);
        if (how === "killed") await first.close();
        else await consumer.stop();
        const next = new Handled<IncomingEnvelope>();
        consume(openTransport("next"), {
          contract: "event",
          source,
          handle: (batch) => {
            next.push(batch);
            return Promise.resolve(batch.map(() => accept));
          },
        });
        try {
          await next.until(
            "every message",
            (all) => new Set(all.map((m) => m.messageId)).size === envelopes.length,
          );
        } finally {
          hold.open();
        }
        expect(new Set(next.ids())).toEqual(new Set(envelopes.map((e) => e.id)));
        // What the first consumer held is among what the next one got.
        for (const id of held.ids()) expect(next.ids()).toContain(id);
        await backlog(source, 0);
      });
    }

    it("dead-letters an undecodable delivery on arrival and tells onUndecodable", async () => {
      const source = DESTINATIONS.undecodable;
      const badId = randomUUID();
      const after = envelope("k", { n: 1 });
      await harness.raw.injectUndecodable(source, badId);
      await publishAll(source, [after]);
      await backlog(source, 2);
      const transport = openTransport("consumer");
      const deadLetters = transport.deadLetters(source, GROUP);
      const undecodable: Array<[string, string | undefined]> = [];
      const handled = new Handled<IncomingEnvelope>();
      try {
        const consumer = consume(transport, {
          contract: "event",
          source,
          onUndecodable: (reason, messageId) => undecodable.push([reason, messageId]),
          handle: (batch) => {
            handled.push(batch);
            return Promise.resolve(batch.map(() => accept));
          },
        });
        await handled.until("the good message after it", (all) => all.length >= 1);
        expect(handled.ids()).toEqual([after.id]);
        expect(undecodable.map(([, id]) => id)).toEqual([badId]);
        expect(undecodable[0]?.[0]).toMatch(/./);
        expect(consumer.state().undecodable).toBe(1);
        await waitFor("the dead letter", async () => ((await deadLetters.count()) === 1 ? true : undefined));
        expect((await deadLetters.browse(10)).map((l) => l.messageId)).toEqual([badId]);
        await backlog(source, 0);
      } finally {
        await deadLetters.close();
      }
    });
  });
}
