import type net from "node:net";
import { createLogger } from "@outbox/service-defaults";
import rhea, { type Connection, type EventContext, type Message, type Sender } from "rhea";
import { afterEach, describe, expect, it } from "vitest";
import { BatchConsumer, type Settlement } from "./batch-consumer.js";

// Settlement against a real rhea peer on loopback: what matters is the disposition frames rhea
// writes, and the peer sees exactly those (a range disposition applies one outcome to all of it).
// (Moved from receiver-service's consumer tests with the inbox consumer: its settlement is this.)

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A peer that offers `ids` as messages on any link opened to it and records each outcome. */
async function peerOffering(ids: string[]): Promise<{ port: number; outcomes: Map<string, string> }> {
  const outcomes = new Map<string, string>();
  const container = rhea.create_container({ id: "settlement-peer" });
  container.on("disconnected", () => undefined);
  let sent = false;
  container.on("sendable", (ctx: EventContext) => {
    // rhea tracks the credit the peer granted but leaves it out of its typings.
    const sender = ctx.sender as (Sender & { credit: number }) | undefined;
    if (sent || sender === undefined || sender.credit < ids.length) return;
    sent = true;
    for (const id of ids) sender.send({ message_id: id, body: id }, Buffer.from(id));
  });
  for (const outcome of ["accepted", "rejected", "modified", "released"]) {
    container.on(outcome, (ctx: EventContext) => {
      const tag = ctx.delivery?.tag;
      if (tag !== undefined) outcomes.set(Buffer.from(tag).toString(), outcome);
    });
  }
  const server = container.listen({ port: 0, host: "127.0.0.1" });
  const sockets: net.Socket[] = [];
  server.on("connection", (socket: net.Socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        sockets.forEach((s) => s.destroy());
        server.close(() => resolve());
      }),
  );
  return { port: (server.address() as net.AddressInfo).port, outcomes };
}

function connect(port: number): Connection {
  const connection = rhea.create_container({ id: "settlement-test" }).connect({
    host: "127.0.0.1",
    port,
    reconnect: false,
  });
  connection.on("disconnected", () => undefined);
  cleanups.push(() => {
    connection.close();
  });
  return connection;
}

async function until(what: string, predicate: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function outcomeFor(action: "accept" | "reject" | "retry"): Settlement {
  if (action === "accept") return { action: "accept" };
  return { action, reason: `${action} on purpose` };
}

/**
 * Consumes `plan` (message id → outcome) from a peer; every delivery's outcome is decided at the
 * same moment, once all of them arrived, so their settlements fall into one tick.
 */
async function settleTogether(
  plan: Record<string, "accept" | "reject" | "retry">,
  batchSize: number,
): Promise<Map<string, string>> {
  const ids = Object.keys(plan);
  const { port, outcomes } = await peerOffering(ids);
  let arrived = 0;
  let release: () => void = () => undefined;
  const allArrived = new Promise<void>((resolve) => {
    release = resolve;
  });
  const decide = async (message: Message): Promise<Settlement> => {
    arrived += 1;
    if (arrived === ids.length) release();
    await allArrived;
    return outcomeFor(plan[String(message.message_id)] ?? "retry");
  };
  const consumer = new BatchConsumer<Message, Settlement>({
    connection: connect(port),
    queue: "entity-items",
    maxInFlight: ids.length,
    // 1: separate batches settled in one tick; all: one batch's outcomes settled together.
    batchSize,
    lingerMs: 0,
    logger: createLogger("test", "silent"),
    handle: (batch) => Promise.all(batch.map((delivery) => decide(delivery.message))),
  });
  consumer.start();
  cleanups.push(() => consumer.stop());
  await until("every outcome at the peer", () => outcomes.size === ids.length);
  // A merged range would still change an outcome seen earlier: give it the time to arrive.
  await new Promise((resolve) => setTimeout(resolve, 50));
  return outcomes;
}

describe.each([
  ["one delivery per batch", 1],
  ["one batch", 10],
] as const)("settling in one tick (%s)", (_, mode) => {
  it("keeps an accept and a reject of consecutive deliveries apart", async () => {
    const outcomes = await settleTogether({ m1: "accept", m2: "reject" }, mode);
    expect(Object.fromEntries(outcomes)).toEqual({ m1: "accepted", m2: "rejected" });
  });

  it("keeps a reject and a retry apart from the accepts around them", async () => {
    const outcomes = await settleTogether({ m1: "reject", m2: "accept", m3: "retry", m4: "accept" }, mode);
    expect(Object.fromEntries(outcomes)).toEqual({
      m1: "rejected",
      m2: "accepted",
      m3: "modified",
      m4: "accepted",
    });
  });
});
