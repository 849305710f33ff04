import fs from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ResourceSnapshot } from "../../../runtime/distributed-application.js";
import { LogSink } from "../../../runtime/log-sink.js";
import type { DashboardContribution } from "../../contribution.js";
import { DashboardServer, type DashboardApp } from "../../dashboard-server.js";
import { fetchLocalhost } from "../../localhost-fetch.js";
import { outboxMessaging } from "./index.js";

// The outbox contribution as the dashboard serves it: present only for a model that declares it.
const secrets = { loginToken: "t".repeat(48), otlpApiKey: "k".repeat(48), toolToken: "b".repeat(48) };
const tool = { authorization: `Bearer ${secrets.toolToken}` };
const TOKEN = "a".repeat(32);
let dir: string;
let logs: LogSink;
let service: http.Server;
let received: string[];
const dashboards: DashboardServer[] = [];

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "outbox-contribution-"));
  logs = new LogSink({ directory: dir, console: false });
  received = [];
  // Plays the receiver's admin API (or whatever took its port).
  service = http.createServer((req, res) => {
    received.push(`${req.method} ${req.url} ${req.headers.authorization ?? ""}`);
    res.writeHead(200, { "content-type": "application/json" }).end('{"replayed":3}');
  });
  await new Promise<void>((resolve) => service.listen(0, "127.0.0.1", resolve));
});

afterEach(async () => {
  for (const dashboard of dashboards.splice(0)) await dashboard.close();
  await new Promise<void>((resolve) => service.close(() => resolve()));
  await logs.close();
  await fs.rm(dir, { recursive: true, force: true });
});

function resource(name: string, state: ResourceSnapshot["state"] = "Running"): ResourceSnapshot {
  return {
    name,
    kind: "node-service",
    state,
    health: "Healthy",
    pid: 1,
    endpoints: { http: `http://127.0.0.1:${(service.address() as AddressInfo).port}` },
    logFile: path.join(dir, `${name}.log`),
    dependsOn: [],
  };
}

async function dashboardFor(
  snapshot: () => ResourceSnapshot[],
  contributions?: DashboardContribution[],
): Promise<DashboardServer> {
  const dashboard = new DashboardServer({ port: 0, secrets });
  dashboards.push(dashboard);
  await dashboard.listen();
  const app: DashboardApp = {
    logs,
    snapshot,
    startResource: () => Promise.resolve(),
    stopResource: () => Promise.resolve(),
    restartResource: () => Promise.resolve(),
    environmentOf: () => ({ ADMIN_TOKEN: TOKEN }),
    ...(contributions ? { model: { dashboardContributions: () => contributions } } : {}),
  };
  dashboard.attach(app);
  return dashboard;
}

async function signedIn(dashboard: DashboardServer): Promise<(p: string) => Promise<Response>> {
  const login = await fetchLocalhost(dashboard.loginUrl);
  const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
  return (p) => fetchLocalhost(dashboard.browserUrl + p, { headers: { cookie } });
}

const replay = (dashboard: DashboardServer, target: string) =>
  fetch(`${dashboard.url}/api/messaging/${target}/replay/dead-letters`, { method: "POST", headers: tool });

describe("the outbox messaging contribution", () => {
  it("a model without it has no messaging or journey page, link, asset, route or replay", async () => {
    const dashboard = await dashboardFor(() => [resource("receiver")]);
    const get = await signedIn(dashboard);
    const home = await (await get("/")).text();
    // Precondition: the page is the dashboard's own, with its navigation.
    expect(home).toContain('data-nav="metrics"');
    expect(home).not.toContain('data-nav="messaging"');
    expect(home).not.toContain('data-nav="journey"');
    for (const p of [
      "/messaging",
      "/journey",
      "/assets/pages/messaging.js",
      "/api/messaging",
      "/api/journey?q=x",
    ])
      expect((await get(p)).status, p).toBe(404);
    expect((await replay(dashboard, "receiver")).status).toBe(404);
    expect(received).toEqual([]);
  });

  it("a model with it links both pages where they always were and serves their modules and routes", async () => {
    const dashboard = await dashboardFor(
      () => [resource("receiver")],
      [outboxMessaging({ services: [{ name: "receiver" }] })],
    );
    const get = await signedIn(dashboard);
    const home = await (await get("/")).text();
    expect(home.replace(/\s+/g, " ")).toContain(
      '<a href="/metrics" data-nav="metrics">Metrics</a> ' +
        '<a href="/messaging" data-nav="messaging" data-module="/assets/pages/messaging.js">Messaging</a> ' +
        '<a href="/journey" data-nav="journey" data-module="/assets/pages/journey.js">Journey</a> ' +
        '<a href="/graph" data-nav="graph">Graph</a>',
    );
    expect((await get("/messaging")).status).toBe(200);
    const script = await get("/assets/pages/journey.js");
    expect(script.headers.get("content-type")).toMatch(/^text\/javascript/);
    expect(await script.text()).toContain("export default async function journeyView");
    expect((await get("/api/journey?q=nothing")).status).toBe(200);
    expect((await get("/api/messaging")).status).toBe(200);
    const answer = await replay(dashboard, "receiver");
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ replayed: 3 });
    expect(received).toContain(`POST /api/DeadLetters/replay Bearer ${TOKEN}`);
  });

  it("replays only on a Running service the model named, never on whatever took a stopped one's port", async () => {
    let state: ResourceSnapshot["state"] = "Running";
    const dashboard = await dashboardFor(
      () => [resource("receiver", state), resource("other")],
      [outboxMessaging({ services: [{ name: "receiver" }] })],
    );
    // Precondition: while Running, the replay reaches the service with its token.
    expect((await replay(dashboard, "receiver")).status).toBe(200);
    const replays = () => received.filter((r) => r.startsWith("POST"));
    expect(replays()).toEqual([`POST /api/DeadLetters/replay Bearer ${TOKEN}`]);
    state = "Exited";
    expect((await replay(dashboard, "receiver")).status).toBe(404);
    // Running, but not one of the outbox services: not sent the token either.
    expect((await replay(dashboard, "other")).status).toBe(404);
    expect(
      (
        await fetch(`${dashboard.url}/api/messaging/receiver/replay/unknown`, {
          method: "POST",
          headers: tool,
        })
      ).status,
    ).toBe(404);
    expect(replays()).toHaveLength(1);
  });

  it("refuses a cross-origin replay even with the session cookie", async () => {
    const dashboard = await dashboardFor(
      () => [resource("receiver")],
      [outboxMessaging({ services: [{ name: "receiver" }] })],
    );
    const login = await fetchLocalhost(dashboard.loginUrl);
    const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    const post = (origin: string) =>
      fetchLocalhost(`${dashboard.browserUrl}/api/messaging/receiver/replay/dead-letters`, {
        method: "POST",
        headers: { cookie, origin },
      });
    expect((await post("http://evil.example")).status).toBe(403);
    expect(received.filter((r) => r.startsWith("POST"))).toEqual([]);
    expect((await post(dashboard.browserUrl)).status).toBe(200);
  });

  it("replays one consumer group's dead letters through the service's ?group= (refusing odd names), and the sender's receipts", async () => {
    const dashboard = await dashboardFor(
      () => [resource("receiver")],
      [outboxMessaging({ services: [{ name: "receiver" }] })],
    );
    const post = (query: string, action = "dead-letters") =>
      fetch(`${dashboard.url}/api/messaging/receiver/replay/${action}${query}`, {
        method: "POST",
        headers: tool,
      });
    const replays = () => received.filter((r) => r.startsWith("POST"));
    expect((await post("?group=audit")).status).toBe(200);
    expect(replays()).toEqual([`POST /api/DeadLetters/replay?group=audit Bearer ${TOKEN}`]);
    for (const bad of ["?group=", "?group=a%26b%3Dc", `?group=${"g".repeat(201)}`])
      expect((await post(bad)).status, bad).toBe(400);
    // The outbox's dead rows have no groups.
    expect((await post("?group=audit", "outbox-dead")).status).toBe(400);
    expect(replays()).toHaveLength(1);
    // The sender's dead-lettered receipts: its own replay route.
    expect((await post("", "receipt-dead-letters")).status).toBe(200);
    expect(replays().at(-1)).toBe(`POST /api/outbox/receipt-dead-letters/replay Bearer ${TOKEN}`);
  });

  it("answers GET /api/messaging/kafka with every Kafka resource of the model", async () => {
    const broker: ResourceSnapshot = {
      ...resource("events", "Exited"),
      kind: "kafka",
      endpoints: { kafka: "kafka://127.0.0.1:1" },
    };
    const dashboard = await dashboardFor(
      () => [resource("receiver"), broker],
      [outboxMessaging({ services: [{ name: "receiver" }] })],
    );
    const get = await signedIn(dashboard);
    const answer = await get("/api/messaging/kafka");
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({
      brokers: [
        {
          resource: "events",
          state: "Exited",
          topics: [],
          groups: [],
          deadLetterTopics: [],
          error: "events is not running",
        },
      ],
    });
    // Behind the dashboard's login like its other data.
    expect((await fetchLocalhost(`${dashboard.browserUrl}/api/messaging/kafka`)).status).toBe(401);
  });

  it("needs at least one service", () => {
    expect(() => outboxMessaging({ services: [] })).toThrow(/at least one service/);
  });
});
