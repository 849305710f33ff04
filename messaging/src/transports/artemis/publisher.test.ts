import { EventEmitter } from "node:events";
import type { Logger } from "@outbox/service-defaults";
import type { Connection, Message } from "rhea";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AmqpPublisher, type PublisherConnection } from "./publisher.js";

/** Just enough of a rhea sender link to drive the publisher. */
class FakeSender extends EventEmitter {
  open = true;
  credit = 10;
  readonly sent: Array<{ message: Message; tag: Buffer }> = [];
  constructor(readonly options: Record<string, unknown>) {
    super();
  }
  get name(): string {
    return String(this.options.name);
  }
  is_open(): boolean {
    return this.open;
  }
  sendable(): boolean {
    return this.open && this.credit > 0;
  }
  send(message: Message, tag: Buffer): void {
    this.credit -= 1;
    this.sent.push({ message, tag });
  }
  close(): void {
    this.open = false;
    this.emit("sender_close", {});
  }
  /** The broker's answer for the n-th sent message. */
  answer(
    n: number,
    event: "accepted" | "rejected" | "released" | "modified" | "settled",
    remoteState?: unknown,
  ): void {
    const sent = this.sent[n];
    if (sent === undefined) throw new Error(`nothing sent at ${n}`);
    this.emit(event, { delivery: { tag: sent.tag, remote_state: remoteState } });
  }
}

class FakeAmqp extends EventEmitter implements PublisherConnection {
  connected = true;
  readonly senders: FakeSender[] = [];
  readonly connection = {
    open_sender: (options: Record<string, unknown>) => {
      const sender = new FakeSender(options);
      this.senders.push(sender);
      return sender;
    },
  } as unknown as Connection;
  isConnected(): boolean {
    return this.connected;
  }
  lastError(): string | undefined {
    return this.connected ? undefined : "ECONNREFUSED";
  }
  get sender(): FakeSender {
    const s = this.senders.at(-1);
    if (s === undefined) throw new Error("no sender");
    return s;
  }
}

const logger = { info: vi.fn(), warn: vi.fn(), debug: vi.fn(), error: vi.fn() } as unknown as Logger;
const message = (id: string): Message => ({ message_id: id, body: null });

function setup(sendTimeoutMs = 1_000) {
  const amqp = new FakeAmqp();
  const publisher = new AmqpPublisher({
    amqp,
    address: "entity-items",
    linkName: "test",
    sendTimeoutMs,
    logger,
  });
  publisher.start();
  return { amqp, publisher };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("AmqpPublisher", () => {
  it("attaches a link to the address as a queue, keeping modified distinct from released", () => {
    const { amqp } = setup();
    expect(amqp.sender.options).toMatchObject({
      target: { address: "entity-items" },
      treat_modified_as_released: false,
    });
  });

  it("correlates outcomes by its own tags, whatever order they come in", async () => {
    const { amqp, publisher } = setup();
    const a = publisher.send(message("a"));
    const b = publisher.send(message("b"));
    const c = publisher.send(message("c"));
    expect(new Set(amqp.sender.sent.map((s) => s.tag.toString())).size).toBe(3);
    amqp.sender.answer(2, "rejected", { error: { condition: "amqp:not-allowed", description: "no" } });
    amqp.sender.answer(0, "accepted");
    amqp.sender.answer(1, "modified", { delivery_failed: true });
    await expect(a).resolves.toEqual({ kind: "accepted" });
    await expect(b).resolves.toEqual({ kind: "modified", deliveryFailed: true, undeliverableHere: false });
    await expect(c).resolves.toEqual({ kind: "rejected", reason: "amqp:not-allowed: no" });
    expect(publisher.inFlightCount()).toBe(0);
  });

  it("makes every in-flight send unknown when the connection drops, and ignores late answers", async () => {
    const { amqp, publisher } = setup();
    const a = publisher.send(message("a"));
    const b = publisher.send(message("b"));
    amqp.connected = false;
    amqp.emit("disconnected");
    await expect(a).resolves.toMatchObject({
      kind: "unknown",
      reason: expect.stringContaining("connection lost") as unknown,
    });
    await expect(b).resolves.toMatchObject({ kind: "unknown" });
    amqp.sender.answer(0, "accepted"); // a stale disposition must not resolve anything twice
    expect(publisher.inFlightCount()).toBe(0);
  });

  it("makes a send unknown when no outcome arrives in time", async () => {
    vi.useFakeTimers();
    const { publisher } = setup(500);
    const a = publisher.send(message("a"));
    await vi.advanceTimersByTimeAsync(501);
    await expect(a).resolves.toEqual({ kind: "unknown", reason: "no outcome within 500 ms" });
  });

  it("treats a settlement without outcome as unknown", async () => {
    const { amqp, publisher } = setup();
    const a = publisher.send(message("a"));
    amqp.sender.answer(0, "settled");
    await expect(a).resolves.toMatchObject({ kind: "unknown" });
  });

  it("does not send without credit, and waits for the link to become sendable", async () => {
    const { amqp, publisher } = setup();
    amqp.sender.credit = 0;
    await expect(publisher.send(message("a"))).resolves.toMatchObject({ kind: "unknown" });
    expect(amqp.sender.sent).toHaveLength(0);
    const waiting = publisher.waitUntilSendable(5_000, new AbortController().signal);
    amqp.sender.credit = 5;
    amqp.sender.emit("sendable", {});
    await expect(waiting).resolves.toBe(true);
  });

  it("gives up waiting on abort or timeout", async () => {
    const { amqp, publisher } = setup();
    amqp.sender.credit = 0;
    const controller = new AbortController();
    const aborted = publisher.waitUntilSendable(60_000, controller.signal);
    controller.abort();
    await expect(aborted).resolves.toBe(false);
    await expect(publisher.waitUntilSendable(10, new AbortController().signal)).resolves.toBe(false);
  });

  it("attaches a new link after the broker detached the old one, and only once connected", async () => {
    const { amqp, publisher } = setup();
    const a = publisher.send(message("a"));
    amqp.sender.emit("sender_error", {
      sender: { error: { condition: "amqp:not-found", description: "gone" } },
    });
    amqp.sender.emit("sender_close", {});
    await expect(a).resolves.toEqual({ kind: "unknown", reason: "link error: amqp:not-found: gone" });
    amqp.connected = false;
    await publisher.waitUntilSendable(1, new AbortController().signal);
    expect(amqp.senders).toHaveLength(1);
    amqp.connected = true;
    amqp.emit("connected");
    expect(amqp.senders).toHaveLength(2);
    expect(amqp.sender.name).toBe("test-2");
  });

  it("close() resolves in-flight sends as unknown and detaches", async () => {
    const { amqp, publisher } = setup();
    const a = publisher.send(message("a"));
    await publisher.close();
    await expect(a).resolves.toEqual({ kind: "unknown", reason: "publisher closed" });
    expect(amqp.sender.open).toBe(false);
    await expect(publisher.send(message("b"))).resolves.toMatchObject({ kind: "unknown" });
  });
});
