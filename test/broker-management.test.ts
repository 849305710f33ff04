import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Connection, Sender } from "rhea";
import { AppBuilder, type DistributedApplication } from "@outbox/apphost";
import { startTestApp, stopTestApp } from "@outbox/apphost/testing";
import { BrokerManagement } from "../messaging/src/transports/artemis/management.js";
import { connectToBroker, eventually } from "./support/receiver.js";

// Review defect 11: a management reply-link timeout leaked its link pair, and a management sender
// the broker detached was kept and used for every later call (each then timed out).
let app: DistributedApplication;
const connections: Connection[] = [];

function openLinks(connection: Connection): number {
  let open = 0;
  connection.each_link((link: { is_open(): boolean }) => {
    if (link.is_open()) open += 1;
  });
  return open;
}

beforeAll(async () => {
  const model = new AppBuilder({ name: "broker-management" });
  model.addArtemis("broker").addQueue("management-probe");
  app = await startTestApp({ model });
});

afterAll(async () => {
  for (const connection of connections) connection.close();
  await stopTestApp(app);
});

async function connect(): Promise<Connection> {
  const connection = await connectToBroker(app);
  connections.push(connection);
  return connection;
}

describe("broker management links (defect 11)", () => {
  it("closes the link pair of every reply-link attempt that timed out", async () => {
    const connection = await connect();
    const management = new BrokerManagement(connection, 500);
    // A stalled broker (SIGSTOP, like a long GC pause) cannot attach the dynamic reply queue, so
    // every attempt times out; once it resumes it attaches whatever links are still open.
    const pid = app.resource("broker").pid;
    expect(pid).toBeGreaterThan(0);
    process.kill(pid!, "SIGSTOP");
    try {
      for (let i = 0; i < 5; i++) {
        await expect(management.call("broker", "getQueueNames")).rejects.toThrow(/reply link did not open/);
      }
    } finally {
      process.kill(pid!, "SIGCONT");
    }
    // The broker answers again (a fresh management session on the same connection works)...
    const probe = new BrokerManagement(connection, 30_000);
    expect(Number(await probe.call("queue.management-probe", "countMessages"))).toBe(0);
    probe.close();
    // ...and no link of the timed-out attempts is still open.
    await eventually(
      "no management link left open after 5 timed-out attempts",
      () => Promise.resolve(openLinks(connection) === 0 ? true : undefined),
      15_000,
    );
    management.close();
  });

  it("re-creates a management sender that was detached, and answers the next call", async () => {
    const connection = await connect();
    const management = new BrokerManagement(connection, 10_000);
    const before = await management.call("queue.management-probe", "countMessages");
    expect(Number(before)).toBe(0);

    const sender = (management as unknown as { sender: Sender }).sender;
    const detached = new Promise<void>((resolve) => sender.once("sender_close", () => resolve()));
    sender.close(); // the broker answers with a detach, as when it detaches the link itself
    await detached;
    expect(sender.is_open()).toBe(false);

    const after = await management.call("queue.management-probe", "countMessages");
    expect(Number(after)).toBe(0);
    const current = (management as unknown as { sender: Sender }).sender;
    expect(current).not.toBe(sender);
    expect(current.is_open()).toBe(true);
    management.close();
  });
});
