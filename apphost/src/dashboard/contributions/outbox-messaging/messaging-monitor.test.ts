import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { ResourceSnapshot } from "../../../runtime/distributed-application.js";
import { MessagingMonitor } from "./messaging-monitor.js";

// The monitor against a plain HTTP server answering like the sender's admin API.
const servers: http.Server[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function serve(routes: Record<string, unknown>): Promise<string> {
  const server = http.createServer((req, res) => {
    const body = routes[req.url ?? ""];
    if (body === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function senderAt(url: string): ResourceSnapshot {
  return {
    name: "sender",
    kind: "node-service",
    state: "Running",
    health: "Healthy",
    pid: 1,
    endpoints: { http: url },
    logFile: "/dev/null",
    dependsOn: [],
  };
}

const stats = { counts: { pending: 2, published: 0, delivered: 5, dead: 1 }, oldestPendingAgeMs: 10 };
const blockedItem = {
  aggregateType: "EntityItem",
  aggregateId: "a1",
  destination: "entity-items",
  deadMessage: { id: "m1", seq: 3, type: "EntityItemUpdated", version: 1, attempts: 10, lastError: "x" },
  waiting: 2,
  blockedSince: "2026-01-01T00:00:00.000Z",
};

describe("MessagingMonitor, blocked aggregates", () => {
  it("keeps the latest listing of the sender's blocked aggregates, dropping malformed entries", async () => {
    const url = await serve({
      "/api/outbox/stats": stats,
      "/api/outbox/blocked?pageSize=50": {
        items: [blockedItem, { aggregateId: "broken" }],
        total: 3,
        page: 1,
        pageSize: 50,
      },
    });
    const abort = new AbortController();
    const monitor = new MessagingMonitor({ resources: () => [senderAt(url)], signal: abort.signal });
    await monitor.sampleNow();
    const [sender] = monitor.snapshot();
    expect(sender?.blocked).toMatchObject({ total: 3, items: [blockedItem] });
    expect(sender?.error).toBeUndefined();
    abort.abort();
  });

  it("has no blocked listing for a service without the route", async () => {
    const url = await serve({ "/api/outbox/stats": stats });
    const abort = new AbortController();
    const monitor = new MessagingMonitor({ resources: () => [senderAt(url)], signal: abort.signal });
    await monitor.sampleNow();
    const [sender] = monitor.snapshot();
    expect(sender?.outbox).toHaveLength(1);
    expect(sender?.blocked).toBeUndefined();
    abort.abort();
  });
});

describe("MessagingMonitor and a port it no longer owns", () => {
  it("sends nothing to a service that stopped after the tick began (its port may be squatted)", async () => {
    const seen: string[] = [];
    const server = http.createServer((req, res) => {
      seen.push(`${req.url} ${req.headers.authorization ?? ""}`);
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(stats));
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    let state: ResourceSnapshot["state"] = "Running";
    let listed = 0;
    const resources = (): ResourceSnapshot[] => {
      listed += 1;
      const snapshot = [{ ...senderAt(url), state }];
      // The tick lists the sender as Running; by the time it asks, the sender has stopped.
      state = "Exited";
      return snapshot;
    };
    const abort = new AbortController();
    const monitor = new MessagingMonitor({
      resources,
      adminToken: () => "t".repeat(32),
      signal: abort.signal,
    });
    await monitor.sampleNow();
    expect(listed).toBeGreaterThan(1);
    expect(seen).toEqual([]);
    // Precondition of the scenario: a Running sender is asked, with its token.
    state = "Running";
    const running = new MessagingMonitor({
      resources: () => [senderAt(url)],
      adminToken: () => "t".repeat(32),
      signal: abort.signal,
    });
    await running.sampleNow();
    expect(seen).toContain(`/api/outbox/stats Bearer ${"t".repeat(32)}`);
    abort.abort();
  });
});

describe("MessagingMonitor, dead letters per consumer group", () => {
  it("keeps each group's count with the group and where the transport keeps them", async () => {
    const url = await serve({
      "/api/consumer-groups": { groups: ["receiver", "audit"] },
      "/api/DeadLetters/count?group=receiver": {
        group: "receiver",
        queue: "entity-items.receiver.dlt",
        count: 2,
      },
      "/api/DeadLetters/count?group=audit": { group: "audit", queue: "DLQ.entity-items.audit", count: 0 },
    });
    const abort = new AbortController();
    const monitor = new MessagingMonitor({ resources: () => [senderAt(url)], signal: abort.signal });
    await monitor.sampleNow();
    const [service] = monitor.snapshot();
    expect(service?.deadLetters?.map(({ group, queue, count }) => ({ group, queue, count }))).toEqual([
      { group: "receiver", queue: "entity-items.receiver.dlt", count: 2 },
      { group: "audit", queue: "DLQ.entity-items.audit", count: 0 },
    ]);
    abort.abort();
  });
});

describe("MessagingMonitor, the sender's dead-lettered receipts", () => {
  it("keeps their count as a dead-letter series of its own, marked as receipts", async () => {
    const url = await serve({
      "/api/outbox/stats": stats,
      "/api/outbox/receipt-dead-letters/count": { queue: "delivery-receipts.sender.dlt", count: 4 },
    });
    const abort = new AbortController();
    const monitor = new MessagingMonitor({ resources: () => [senderAt(url)], signal: abort.signal });
    await monitor.sampleNow();
    const [sender] = monitor.snapshot();
    expect(
      sender?.deadLetters?.map(({ queue, group, receipts, count }) => ({ queue, group, receipts, count })),
    ).toEqual([{ queue: "delivery-receipts.sender.dlt", group: undefined, receipts: true, count: 4 }]);
    expect(sender?.error).toBeUndefined();
    abort.abort();
  });
});
