import fs from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ResourceSnapshot } from "../runtime/distributed-application.js";
import { LogSink } from "../runtime/log-sink.js";
import { DashboardServer, type DashboardApp } from "./dashboard-server.js";
import { maskEnvironment } from "./mask.js";

const secrets = { loginToken: "t".repeat(48), otlpApiKey: "k".repeat(48), toolToken: "b".repeat(48) };
let dir: string;
let dashboard: DashboardServer;
let calls: string[];

function fakeApp(logs: LogSink): DashboardApp {
  const resource: ResourceSnapshot = {
    name: "receiver",
    kind: "node-service",
    state: "Running",
    health: "Healthy",
    pid: 4242,
    endpoints: { http: "http://127.0.0.1:1" },
    logFile: path.join(dir, "receiver.log"),
    dependsOn: [],
    startedAt: new Date().toISOString(),
  };
  return {
    logs,
    snapshot: () => [resource],
    startResource: (name) => Promise.resolve(void calls.push(`start ${name}`)),
    stopResource: (name) => Promise.resolve(void calls.push(`stop ${name}`)),
    restartResource: (name) => Promise.resolve(void calls.push(`restart ${name}`)),
    environmentOf: () => ({
      RECEIVERDB_PASSWORD: "hunter2",
      ConnectionStrings__broker: "amqp://u:pw@h:1",
      PORT: "1",
    }),
  };
}

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "dashboard-server-"));
  calls = [];
  dashboard = new DashboardServer({ port: 0, secrets, telemetryDir: path.join(dir, "telemetry") });
  await dashboard.listen();
  const logs = new LogSink({ directory: dir, console: false });
  dashboard.attach(fakeApp(logs));
});

afterEach(async () => {
  await dashboard.close();
  await fs.rm(dir, { recursive: true, force: true });
});

async function login(): Promise<string> {
  const response = await fetch(dashboard.loginUrl, { redirect: "manual" });
  expect(response.status).toBe(302);
  const cookie = response.headers.get("set-cookie") ?? "";
  expect(cookie).toMatch(/HttpOnly/);
  expect(cookie).toMatch(/SameSite=Strict/);
  return cookie.split(";")[0] ?? "";
}

const spanBody = {
  resourceSpans: [
    {
      resource: { attributes: [{ key: "service.name", value: { stringValue: "sender" } }] },
      scopeSpans: [
        {
          spans: [
            {
              traceId: "0af7651916cd43dd8448eb211c80319c",
              spanId: "b7ad6b7169203331",
              name: "POST /api/EntityItems",
              kind: 2,
              startTimeUnixNano: "1700000000000000000",
              endTimeUnixNano: "1700000000005000000",
            },
          ],
        },
      ],
    },
  ],
};

describe("dashboard authentication", () => {
  it("answers 401 to the API and redirects pages to the login without a session", async () => {
    expect((await fetch(`${dashboard.url}/api/resources`)).status).toBe(401);
    const page = await fetch(`${dashboard.url}/traces`, { redirect: "manual" });
    expect(page.status).toBe(302);
    expect(page.headers.get("location")).toBe("/login");
    expect((await fetch(`${dashboard.url}/login?t=wrong`)).status).toBe(401);
  });

  it("turns the token into a cookie session that opens the API and the pages", async () => {
    const cookie = await login();
    const resources = (await (
      await fetch(`${dashboard.url}/api/resources`, { headers: { cookie } })
    ).json()) as Array<{
      name: string;
      environment: Record<string, string>;
    }>;
    expect(resources[0]?.name).toBe("receiver");
    expect(resources[0]?.environment).toEqual({
      ConnectionStrings__broker: "amqp://u:***@h:1",
      PORT: "1",
      RECEIVERDB_PASSWORD: "***",
    });
    const page = await fetch(`${dashboard.url}/resources`, { headers: { cookie } });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(await page.text()).toContain("/assets/app.js");
    expect(
      (await fetch(`${dashboard.url}/api/resources`, { headers: { cookie: "apphost_session_1=forged" } }))
        .status,
    ).toBe(401);
  });

  it("accepts the token from the login form (same origin only)", async () => {
    const form = { method: "POST", body: `token=${secrets.loginToken}`, redirect: "manual" as const };
    const headers = { "content-type": "application/x-www-form-urlencoded" };
    const ok = await fetch(`${dashboard.url}/login`, {
      ...form,
      headers: { ...headers, origin: dashboard.url },
    });
    expect(ok.status).toBe(302);
    const crossSite = await fetch(`${dashboard.url}/login`, {
      ...form,
      headers: { ...headers, origin: "http://evil.example" },
    });
    expect(crossSite.status).toBe(403);
  });

  it("runs resource actions only for same-origin POSTs with a session", async () => {
    const cookie = await login();
    const url = `${dashboard.url}/api/resources/receiver/restart`;
    expect((await fetch(url, { method: "POST", headers: { origin: dashboard.url } })).status).toBe(401);
    expect(
      (await fetch(url, { method: "POST", headers: { cookie, origin: "http://evil.example" } })).status,
    ).toBe(403);
    expect((await fetch(url, { method: "POST", headers: { cookie } })).status).toBe(403);
    expect((await fetch(url, { method: "POST", headers: { cookie, origin: dashboard.url } })).status).toBe(
      202,
    );
    expect(calls).toEqual(["restart receiver"]);
    const unknown = await fetch(`${dashboard.url}/api/resources/nope/stop`, {
      method: "POST",
      headers: { cookie, origin: dashboard.url },
    });
    expect(unknown.status).toBe(404);
  });
});

describe("OTLP intake", () => {
  const post = (signal: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${dashboard.url}/v1/${signal}`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-otlp-api-key": secrets.otlpApiKey, ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });

  it("requires the API key", async () => {
    expect((await post("traces", spanBody, { "x-otlp-api-key": "wrong" })).status).toBe(401);
    const none = await fetch(`${dashboard.url}/v1/traces`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(spanBody),
    });
    expect(none.status).toBe(401);
    expect(dashboard.store.count("spans")).toBe(0);
  });

  it("stores JSON traces and serves them to a logged-in user", async () => {
    expect((await post("traces", spanBody)).status).toBe(200);
    const cookie = await login();
    const traces = (await (
      await fetch(`${dashboard.url}/api/traces`, { headers: { cookie } })
    ).json()) as Array<{
      traceId: string;
      durationMs: number;
    }>;
    expect(traces).toEqual([
      expect.objectContaining({ traceId: "0af7651916cd43dd8448eb211c80319c", durationMs: 5 }),
    ]);
    const detail = await fetch(`${dashboard.url}/api/traces/0af7651916cd43dd8448eb211c80319c`, {
      headers: { cookie },
    });
    expect(detail.status).toBe(200);
  });

  it("refuses protobuf and malformed JSON with a reason", async () => {
    expect((await post("traces", "x", { "content-type": "application/x-protobuf" })).status).toBe(415);
    expect((await post("traces", "{not json")).status).toBe(400);
    expect((await post("logs", { resourceSpans: [] })).status).toBe(400);
  });
});

describe("live streams", () => {
  it("pushes console lines over server-sent events", async () => {
    const cookie = await login();
    const received = await new Promise<string>((resolve, reject) => {
      const req = http.get(
        `${dashboard.url}/api/console/stream?resource=receiver`,
        { headers: { cookie } },
        (res) => {
          res.setEncoding("utf8");
          let text = "";
          res.on("data", (chunk: string) => {
            text += chunk;
            if (text.includes("event: line")) {
              req.destroy();
              resolve(text);
            }
          });
        },
      );
      req.on("error", reject);
      // Wait for the stream to be subscribed, then produce a line.
      setTimeout(() => fakeLogs().write("receiver", "stdout", '{"level":"warn","msg":"slow"}'), 200);
    });
    expect(received).toContain('"level":"warn"');
    expect(received).toContain("WARN  slow");
  });
});

function fakeLogs(): LogSink {
  return (dashboard as unknown as { app: DashboardApp }).app.logs;
}

describe("maskEnvironment", () => {
  it("hides secret-looking names and passwords in URLs", () => {
    expect(
      maskEnvironment({
        OTEL_EXPORTER_OTLP_HEADERS: "x-otlp-api-key=abc",
        SENDERDB_URI: "postgresql://postgres:pw@127.0.0.1:5432/senderdb",
        API_TOKEN: "x",
        HOST: "127.0.0.1",
      }),
    ).toEqual({
      API_TOKEN: "***",
      HOST: "127.0.0.1",
      OTEL_EXPORTER_OTLP_HEADERS: "***",
      SENDERDB_URI: "postgresql://postgres:***@127.0.0.1:5432/senderdb",
    });
  });
});
