import { EventEmitter } from "node:events";
import type { Connection, Message } from "rhea";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  BatchConsumer,
  type BatchConsumerOptions,
  type BatchDelivery,
  type Decoded,
  type Settlement,
} from "./batch-consumer.js";
import type { Logger } from "../logger.js";

// The library's own behaviour, apart from either service: a fake link (credit consumed per
// transfer, as in rhea) and a handler the test answers batch by batch.

type Outcome = Settlement["action"];

const ignore = (): void => undefined;
const silentLogger: Logger = {
  debug: ignore,
  info: ignore,
  warn: ignore,
  error: ignore,
  child: () => silentLogger,
};

interface Sent {
  settled: string[];
}

class Link extends EventEmitter {
  credit = 0;
  open = true;
  add_credit(n: number): void {
    this.credit += n;
  }
  is_open(): boolean {
    return this.open;
  }
  is_remote_open(): boolean {
    return this.open;
  }
  close(): void {
    this.open = false;
  }
  send(id: string, extra: Partial<Message> = {}): Sent {
    if (this.credit < 1) throw new Error("no credit");
    this.credit -= 1;
    const sent: Sent = { settled: [] };
    const record = (what: string) => () => sent.settled.push(what);
    const delivery = {
      accept: record("accept"),
      reject: record("reject"),
      modified: record("modified"),
      release: record("release"),
    };
    this.emit("message", { delivery, message: { message_id: id, body: id, ...extra } });
    return sent;
  }
}

/** Batches the handler was given (message ids) and a way to answer the oldest one. */
interface Calls {
  batches: string[][];
  answer(outcomes: Outcome[]): Promise<void>;
}

const consumers: BatchConsumer<unknown, Settlement>[] = [];
afterEach(async () => {
  for (const consumer of consumers.splice(0)) await consumer.stop(50);
  vi.useRealTimers();
});

function setup(
  options: Partial<BatchConsumerOptions<Message, Settlement>> & {
    decode?: (m: Message) => Decoded<Message>;
  } = {},
): { link: Link; calls: Calls; consumer: BatchConsumer<Message, Settlement> } {
  const link = new Link();
  const connection = Object.assign(new EventEmitter(), {
    open_receiver: () => link,
    is_open: () => true,
  });
  const waiting: Array<(outcomes: Settlement[]) => void> = [];
  const batches: string[][] = [];
  const consumer = new BatchConsumer<Message, Settlement>({
    connection: connection as unknown as Connection,
    queue: "q",
    maxInFlight: 4,
    batchSize: 4,
    lingerMs: 5,
    logger: silentLogger,
    handle: (batch: readonly BatchDelivery<Message>[]) => {
      batches.push(batch.map((d) => String(d.message.message_id)));
      return new Promise<Settlement[]>((resolve) => waiting.push(resolve));
    },
    detachTimeoutMs: 0,
    ...options,
  });
  consumers.push(consumer as BatchConsumer<unknown, Settlement>);
  consumer.start();
  link.emit("receiver_open");
  const calls: Calls = {
    batches,
    async answer(outcomes) {
      const resolve = waiting.shift();
      if (resolve === undefined) throw new Error("no batch is waiting for an answer");
      resolve(outcomes.map((action) => settlement(action)));
      // Accepts settle at once, every other outcome in an immediate of its own.
      for (let i = 0; i < outcomes.length + 2; i++) await new Promise((r) => setImmediate(r));
    },
  };
  return { link, calls, consumer };
}

function settlement(action: Outcome): Settlement {
  switch (action) {
    case "accept":
    case "release":
      return { action };
    default:
      return { action, reason: `${action} on purpose` };
  }
}

/** Lets the immediate that cuts a batch run. */
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe("BatchConsumer", () => {
  it("cuts the deliveries of one turn into one batch and settles each by its outcome", async () => {
    const { link, calls } = setup();
    expect(link.credit).toBe(4);
    const sent = ["a", "b", "c"].map((id) => link.send(id));
    await nextTurn();
    expect(calls.batches).toEqual([["a", "b", "c"]]);
    await calls.answer(["accept", "reject", "retry"]);
    expect(sent.map((s) => s.settled)).toEqual([["accept"], ["reject"], ["modified"]]);
    expect(link.credit).toBe(4);
  });

  it("rejects what it cannot decode on arrival, outside any batch and without holding credit", async () => {
    const { link, calls, consumer } = setup({
      decode: (m): Decoded<Message> =>
        m.message_id === "bad" ? { ok: false, reason: "unreadable" } : { ok: true, value: m },
    });
    const bad = link.send("bad");
    const good = link.send("good");
    // Rejected alone, in a turn of its own (settle-alone.ts), not in the turn it arrived in.
    expect(bad.settled).toEqual([]);
    await nextTurn();
    expect(bad.settled).toEqual(["reject"]);
    expect(calls.batches).toEqual([["good"]]);
    expect(consumer.state()).toMatchObject({ received: 2, undecodable: 1, inFlight: 1 });
    await calls.answer(["accept"]);
    expect(good.settled).toEqual(["accept"]);
  });

  it("runs batches sharing a key one after another, in arrival order", async () => {
    const { link, calls } = setup({
      batchSize: 1,
      keyOf: (m) => (typeof m.group_id === "string" ? m.group_id : undefined),
    });
    link.send("a1", { group_id: "A" });
    link.send("a2", { group_id: "A" });
    link.send("b1", { group_id: "B" });
    expect(calls.batches).toEqual([["a1"], ["b1"]]);
    await calls.answer(["accept"]);
    expect(calls.batches).toEqual([["a1"], ["b1"], ["a2"]]);
  });

  it("holds deliveries unsettled while the database is down and runs them again once the probe answers", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    let healthy = false;
    const { link, calls, consumer } = setup({ probe: () => Promise.resolve(healthy) });
    const sent = ["a", "b"].map((id) => link.send(id));
    await nextTurn();
    await calls.answer(["accept", "hold"]);
    // Precondition: the hold paused consumption and kept "b" unsettled, credit withheld (a batch
    // counts as in flight until it is done).
    expect(consumer.state()).toMatchObject({ paused: true, pauses: 1, inFlight: 2 });
    expect(sent.map((s) => s.settled)).toEqual([["accept"], []]);
    expect(link.credit).toBe(2);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(calls.batches).toHaveLength(1);
    healthy = true;
    await vi.advanceTimersByTimeAsync(5_000);
    expect(calls.batches).toEqual([["a", "b"], ["b"]]);
    await calls.answer(["accept"]);
    expect(sent[1]?.settled).toEqual(["accept"]);
    expect(consumer.state()).toMatchObject({ paused: false, inFlight: 0 });
    expect(link.credit).toBe(4);
  });

  it("releases held deliveries when it stops during the outage", async () => {
    const { link, calls, consumer } = setup({ probe: () => Promise.resolve(false) });
    const held = link.send("a");
    await nextTurn();
    await calls.answer(["hold"]);
    expect(consumer.state().paused).toBe(true);
    await consumer.stop(1_000);
    expect(held.settled).toEqual(["release"]);
    expect(link.is_open()).toBe(false);
  });

  it("settles a hold as a retry when there is no probe to end a pause", async () => {
    const { link, calls, consumer } = setup();
    const sent = link.send("a");
    await nextTurn();
    await calls.answer(["hold"]);
    expect(sent.settled).toEqual(["modified"]);
    expect(consumer.state()).toMatchObject({ paused: false, pauses: 0 });
  });

  it("pauses after a retry that says the database is unavailable, and only then", async () => {
    const { link, consumer } = setup({
      probe: () => Promise.resolve(false),
      batchSize: 1,
      handle: (batch) =>
        Promise.resolve(
          batch.map((d): Settlement =>
            d.message.message_id === "down"
              ? { action: "retry", reason: "db down", databaseUnavailable: true }
              : { action: "retry", reason: "version gap" },
          ),
        ),
    });
    const gap = link.send("gap");
    await vi.waitFor(() => expect(gap.settled).toEqual(["modified"]));
    expect(consumer.state().paused).toBe(false);
    const down = link.send("down");
    await vi.waitFor(() => expect(down.settled).toEqual(["modified"]));
    expect(consumer.state()).toMatchObject({ paused: true, pauses: 1 });
  });

  it("releases, when the stop budget runs out, what is still being handled, and settles it once", async () => {
    const { link, calls, consumer } = setup({ releaseOnStopTimeout: true });
    const sent = link.send("a");
    await nextTurn();
    await consumer.stop(50);
    expect(sent.settled).toEqual(["release"]);
    await calls.answer(["accept"]);
    expect(sent.settled).toEqual(["release"]);
  });

  it("refuses a batch size or credit that is not a positive integer", () => {
    expect(() => setup({ batchSize: 0 })).toThrow("batchSize must be a positive integer");
    expect(() => setup({ maxInFlight: 1.5 })).toThrow("maxInFlight must be a positive integer");
  });
});
