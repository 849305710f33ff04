import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DistributedApplication } from "@outbox/apphost";
import { startTestApp, stopTestApp } from "@outbox/apphost/testing";
import { startTraffic } from "./support/traffic.js";
import {
  appliedCounts,
  killDuringStream,
  outboxStatusCounts,
  postEntities,
  query,
  waitForApplied,
  waitForOutboxDrained,
  waitForQuiet,
} from "./support/system.js";

// Kill parts of the real system with SIGKILL and prove that nothing is lost and nothing is applied twice.
// Runs once per provider mode: in container mode a kill is `docker kill` and the restart is a new
// container on the same volume and host port.
let app: DistributedApplication;
let sender: string;

beforeAll(async () => {
  app = await startTestApp();
  sender = app.getEndpoint("sender");
});

afterAll(async () => {
  await stopTestApp(app);
});

async function expectExactlyOnce(ids: string[]): Promise<void> {
  const applied = await waitForApplied(app, ids);
  expect(applied.size, "every entity applied").toBe(ids.length);
  expect((await waitForOutboxDrained(app)).pending ?? 0).toBe(0);
  // Count once nothing more can arrive (outbox settled, queues empty), not after a pause.
  await waitForQuiet(app);
  const final = await appliedCounts(app, ids);
  const twice = [...final].filter(([, n]) => n !== 1);
  expect(twice, "entities applied more than once").toEqual([]);
}

describe("broker outage", () => {
  it("accepts writes while Artemis is dead and delivers all of them exactly once after it returns", async () => {
    await app.killResource("broker");
    expect(app.resource("broker").state).toBe("Exited");

    const created = await postEntities(sender, 50, "broker-outage");
    const ids = created.map((e) => e.id);
    // Nothing can have been published while the broker is down.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect((await outboxStatusCounts(app)).pending ?? 0).toBeGreaterThanOrEqual(50);
    expect((await appliedCounts(app, ids)).size).toBe(0);

    await app.startResource("broker");
    await app.waitForHealthy("broker");
    await expectExactlyOnce(ids);
  });
});

describe("receiver outage", () => {
  it("buffers in the broker while the receiver is dead and applies everything exactly once after restart", async () => {
    await app.killResource("receiver");
    const created = await postEntities(sender, 50, "receiver-outage");
    const ids = created.map((e) => e.id);
    // The relay keeps publishing: the outbox drains into the durable queue.
    const outbox = await waitForOutboxDrained(app);
    expect(outbox.pending ?? 0).toBe(0);
    expect((await appliedCounts(app, ids)).size).toBe(0);

    await app.startResource("receiver");
    await app.waitForHealthy("receiver");
    await expectExactlyOnce(ids);
  });

  it("loses nothing and applies nothing twice when the receiver is killed in the middle of a stream", async () => {
    const { ids, appliedAtKill } = await killDuringStream(app, "receiver", "receiver-crash");
    // Precondition: the kill hit the stream, with part of it applied and part still to come.
    expect(appliedAtKill, "applied when the receiver was killed").toBeGreaterThan(0);
    expect(appliedAtKill, "applied when the receiver was killed").toBeLessThan(ids.length);
    await app.startResource("receiver");
    await app.waitForHealthy("receiver");
    await expectExactlyOnce(ids);
  });
});

describe.each([
  { server: "sender-pg", database: "senderdb" },
  { server: "receiver-pg", database: "receiverdb" },
])("database outage: $server", ({ server, database }) => {
  it("loses nothing and applies nothing twice when the server is killed and restarted under traffic", async () => {
    const traffic = startTraffic(sender, `${server}-outage`);
    try {
      // Traffic is flowing (accepted and applied) before the kill.
      await traffic.waitForAccepted(20);
      await waitForApplied(app, traffic.accepted().slice(0, 5));
      const before = app.resource(server);
      await app.killResource(server);
      expect(app.resource(server).state).toBe("Exited");
      if (server === "sender-pg") {
        // The sender cannot commit without its database: POSTs fail instead of losing data.
        await traffic.waitForRejected(5);
      } else {
        // The sender keeps accepting; the receiver's transactions fail and are redelivered later.
        await traffic.waitForAccepted(traffic.accepted().length + 20);
      }

      await app.startResource(server);
      await app.startResource(database);
      await app.waitForHealthy(database);
      // Same address after the restart: clients reconnect to what they were given.
      expect(app.resource(server).endpoints).toEqual(before.endpoints);
      await traffic.waitForAccepted(traffic.accepted().length + 20);
    } finally {
      await traffic.stop();
    }
    await expectExactlyOnce(traffic.accepted());
  });
});

describe("totals", () => {
  it("has exactly one message and one effect per entity the sender committed", async () => {
    const [entities] = await query<{ n: string }>(
      app.getConnectionString("senderdb"),
      "SELECT count(*)::text AS n FROM entity_items",
    );
    const [effects] = await query<{ n: string }>(
      app.getConnectionString("receiverdb"),
      "SELECT count(*)::text AS n FROM received_items",
    );
    const [inbox] = await query<{ n: string; d: string }>(
      app.getConnectionString("receiverdb"),
      "SELECT count(*)::text AS n, count(DISTINCT aggregate_id)::text AS d FROM inbox",
    );
    expect(Number(effects?.n)).toBe(Number(entities?.n));
    expect(Number(inbox?.n)).toBe(Number(entities?.n));
    expect(Number(inbox?.d)).toBe(Number(entities?.n));
  });
});
