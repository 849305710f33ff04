import { EventEmitter } from "node:events";
import { createLogger } from "@outbox/service-defaults";
import type { Connection, Message } from "rhea";
import { describe, expect, it, vi } from "vitest";
import { messageGroup } from "../contracts/envelope.js";
import { BatchConsumer, type Settlement } from "./batch-consumer.js";

// Credit, pause, reconnect, re-attach, stop and per-group order of the consumer machinery on a fake
// rhea link, one delivery per batch. (Moved from receiver-service's consumer tests with the inbox
// consumer; its failure records are the library inbox consumer's.)

type Outcome = Settlement;

/** Just enough of a rhea receiver: credit is consumed by each transfer, as in rhea. */
class FakeReceiver extends EventEmitter {
  credit = 0;
  remoteOpen = false;
  localOpen = true;
  grants: number[] = [];
  add_credit(n: number): void {
    this.grants.push(n);
    this.credit += n;
  }
  is_open(): boolean {
    return this.localOpen;
  }
  is_remote_open(): boolean {
    return this.remoteOpen;
  }
  close(): void {
    this.localOpen = false;
    this.remoteOpen = false;
    this.emit("receiver_close");
  }
  attach(): void {
    this.remoteOpen = true;
    this.emit("receiver_open");
  }
  /** rhea's reconnect: link re-attached with zero credit. */
  reattach(): void {
    this.credit = 0;
    this.attach();
  }
  deliver(message: Message = { message_id: "m", body: undefined }) {
    if (this.credit <= 0) throw new Error("broker sent without credit");
    this.credit -= 1;
    const delivery = { accept: vi.fn(), reject: vi.fn(), modified: vi.fn(), release: vi.fn() };
    this.emit("message", { delivery, message });
    return delivery;
  }
}

class FakeConnection extends EventEmitter {
  receivers: FakeReceiver[] = [];
  open_receiver(): FakeReceiver {
    const receiver = new FakeReceiver();
    this.receivers.push(receiver);
    return receiver;
  }
  is_open(): boolean {
    return true;
  }
}

const accepted: Outcome = { action: "accept" };

/** message ids in the order processing started (when setup({ track: true })). */
let started: string[] = [];

function setup(options: { maxInFlight?: number; probe?: () => Promise<boolean>; track?: boolean } = {}) {
  started = [];
  const connection = new FakeConnection();
  const pending: ((outcome: Outcome) => void)[] = [];
  const consumer = new BatchConsumer<Message, Outcome>({
    connection: connection as unknown as Connection,
    queue: "entity-items",
    maxInFlight: options.maxInFlight ?? 2,
    batchSize: 1,
    lingerMs: 0,
    logger: createLogger("test", "silent"),
    keyOf: messageGroup,
    handle: ([delivery]) =>
      new Promise<Outcome[]>((resolve) => {
        if (options.track) started.push(String(delivery?.message.message_id));
        pending.push((outcome) => resolve([outcome]));
      }),
    ...(options.probe ? { probe: options.probe } : {}),
  });
  consumer.start();
  const receiver = connection.receivers[0]!;
  /** Completes the oldest pending handler and lets its continuation run. */
  const finish = async (outcome: Outcome) => {
    pending.shift()!(outcome);
    for (let i = 0; i < 10; i++) await Promise.resolve();
    // Outcomes other than accept are settled in a tick of their own (settle-alone.ts in @outbox/messaging).
    if (vi.isFakeTimers()) await vi.advanceTimersByTimeAsync(0);
    else await new Promise((resolve) => setImmediate(resolve));
    for (let i = 0; i < 10; i++) await Promise.resolve();
  };
  return { connection, consumer, receiver, finish };
}

describe("BatchConsumer credit and link", () => {
  it("attaches a non-auto-accepting link and grants credit only once attached", () => {
    const { receiver, consumer } = setup();
    expect(receiver.grants).toEqual([]);
    expect(consumer.state().attached).toBe(false);
    receiver.attach();
    expect(receiver.grants).toEqual([2]);
    expect(consumer.state()).toMatchObject({ attached: true, paused: false });
  });

  it("keeps at most maxInFlight deliveries unsettled and tops up on settlement", async () => {
    const { receiver, finish } = setup();
    receiver.attach();
    const first = receiver.deliver();
    receiver.deliver();
    expect(receiver.credit).toBe(0);
    expect(() => receiver.deliver()).toThrow("without credit");
    await finish(accepted);
    expect(first.accept).toHaveBeenCalledOnce();
    expect(receiver.credit).toBe(1);
  });

  it("rejects poison with a reason", async () => {
    const { receiver, finish } = setup();
    receiver.attach();
    const delivery = receiver.deliver({ message_id: "m", delivery_count: 2, body: undefined });
    await finish({ action: "reject", reason: "bad json" });
    expect(delivery.reject).toHaveBeenCalledWith({ condition: "amqp:decode-error", description: "bad json" });
  });

  it("modifies (never releases) on a transient failure and pauses credit until the probe succeeds", async () => {
    vi.useFakeTimers();
    try {
      let healthy = false;
      const { receiver, finish, consumer } = setup({ probe: () => Promise.resolve(healthy) });
      receiver.attach();
      const delivery = receiver.deliver();
      receiver.deliver();
      await finish({ action: "retry", reason: "db down", databaseUnavailable: true });
      expect(delivery.modified).toHaveBeenCalledWith({ delivery_failed: true });
      expect(delivery.release).not.toHaveBeenCalled();
      expect(receiver.credit).toBe(0);
      expect(consumer.state().paused).toBe(true);
      await vi.advanceTimersByTimeAsync(2_000);
      expect(receiver.credit).toBe(0);
      healthy = true;
      await vi.advanceTimersByTimeAsync(5_000);
      expect(receiver.credit).toBe(1);
      await finish(accepted);
      expect(receiver.credit).toBe(2);
      await consumer.stop();
    } finally {
      vi.useRealTimers();
    }
  });

  it("redelivers a version gap or a failed receipt without pausing: credit keeps flowing", async () => {
    const probe = vi.fn(() => Promise.resolve(true));
    const { receiver, finish, consumer } = setup({ probe });
    receiver.attach();
    const gap = receiver.deliver();
    const receipt = receiver.deliver();
    await finish({ action: "retry", reason: "version gap: EntityItem a is at 1" });
    expect(gap.modified).toHaveBeenCalledWith({ delivery_failed: true });
    // Topped up at once: the next delivery need not wait for a database probe.
    expect(receiver.credit).toBe(1);
    await finish({ action: "retry", reason: "applied, but the follow-up failed: broker gone" });
    expect(receipt.modified).toHaveBeenCalledWith({ delivery_failed: true });
    expect(receiver.credit).toBe(2);
    expect(consumer.state()).toMatchObject({ pauses: 0, paused: false });
    expect(probe).not.toHaveBeenCalled();
    await consumer.stop();
  });

  it("re-grants credit after a reconnect, counting handlers still running", async () => {
    const { receiver, connection, finish } = setup();
    receiver.attach();
    receiver.deliver();
    connection.emit("disconnected");
    receiver.reattach();
    expect(receiver.credit).toBe(1);
    await finish(accepted);
    expect(receiver.credit).toBe(2);
  });

  it("stop() waits for in-flight work, releases late arrivals and detaches", async () => {
    const { receiver, consumer, finish } = setup();
    receiver.attach();
    const inFlight = receiver.deliver();
    const stopped = consumer.stop();
    const late = receiver.deliver();
    expect(late.release).toHaveBeenCalledOnce();
    await finish(accepted);
    await stopped;
    expect(inFlight.accept).toHaveBeenCalledOnce();
    expect(receiver.is_open()).toBe(false);
  });

  it("re-attaches when the broker closes the link", async () => {
    vi.useFakeTimers();
    try {
      const { receiver, connection, consumer } = setup();
      receiver.attach();
      receiver.close();
      await vi.advanceTimersByTimeAsync(1_000);
      expect(connection.receivers).toHaveLength(2);
      await consumer.stop();
    } finally {
      vi.useRealTimers();
    }
  });
  it("runs one group's deliveries one after another and other groups in parallel", async () => {
    const { receiver, finish } = setup({ maxInFlight: 3, track: true });
    receiver.attach();
    const a1 = receiver.deliver({ message_id: "a1", group_id: "A", body: undefined });
    const a2 = receiver.deliver({ message_id: "a2", group_id: "A", body: undefined });
    const b1 = receiver.deliver({ message_id: "b1", group_id: "B", body: undefined });
    // a2 waits for a1; b1 does not wait for anyone.
    expect(started).toEqual(["a1", "b1"]);
    await finish(accepted);
    expect(a1.accept).toHaveBeenCalledOnce();
    expect(started).toEqual(["a1", "b1", "a2"]);
    await finish(accepted);
    await finish(accepted);
    expect(b1.accept).toHaveBeenCalledOnce();
    expect(a2.accept).toHaveBeenCalledOnce();
    // The waiting delivery counted against the credit bound all along.
    expect(receiver.credit).toBe(3);
  });
});
