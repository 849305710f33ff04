import type net from "node:net";
import { createLogger } from "@outbox/service-defaults";
import rhea, { type Connection, type EventContext, type Message, type Sender } from "rhea";
import { afterEach, describe, expect, it } from "vitest";
import type { IncomingEvent } from "../domain/events.js";
import { InboxConsumer, type ConsumerOptions } from "./consumer.js";
import type { BatchProcessor } from "./process-batch.js";
import type { Outcome } from "./process-message.js";

// Settlement against a real rhea peer on loopback: what matters is the disposition frames rhea
// writes, and the peer sees exactly those (a range disposition applies one outcome to all of it).

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

function outcomeFor(id: string, action: "accept" | "reject" | "retry"): Outcome {
  if (action === "accept") {
    const event = { messageId: id, type: "EntityItemCreated", aggregateId: id } as IncomingEvent;
    return { action: "accept", result: "applied", event };
  }
  return { action, reason: `${action} on purpose`, messageId: id };
}

/**
 * Consumes `plan` (message id → outcome) from a peer; every delivery's outcome is decided at the
 * same moment, once all of them arrived, so their settlements fall into one tick.
 */
async function settleTogether(
  plan: Record<string, "accept" | "reject" | "retry">,
  mode: "single" | "batch",
): Promise<Map<string, string>> {
  const ids = Object.keys(plan);
  const { port, outcomes } = await peerOffering(ids);
  let arrived = 0;
  let release: () => void = () => undefined;
  const allArrived = new Promise<void>((resolve) => {
    release = resolve;
  });
  const decide = async (message: Message): Promise<Outcome> => {
    arrived += 1;
    if (arrived === ids.length) release();
    await allArrived;
    const id = String(message.message_id);
    return outcomeFor(id, plan[id] ?? "retry");
  };
  const batch: BatchProcessor = async (items) => ({
    outcomes: await Promise.all(items.map((item) => decide(item.message))),
    fellBack: false,
  });
  const options: ConsumerOptions = {
    connection: connect(port),
    queue: "entity-items",
    maxInFlight: ids.length,
    logger: createLogger("test", "silent"),
    process: decide,
    // One delivery per batch: both paths see deliveries settled by separate handlers in one tick.
    ...(mode === "batch" ? { batch: { process: batch, maxSize: 1, lingerMs: 0 } } : {}),
  };
  const consumer = new InboxConsumer(options);
  consumer.start();
  cleanups.push(() => consumer.stop());
  await until("every outcome at the peer", () => outcomes.size === ids.length);
  // A merged range would still change an outcome seen earlier: give it the time to arrive.
  await new Promise((resolve) => setTimeout(resolve, 50));
  return outcomes;
}

describe.each(["single", "batch"] as const)("settling in one tick (%s path)", (mode) => {
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
