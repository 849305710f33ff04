import fs from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ResourceSnapshot } from "../runtime/distributed-application.js";
import { LogSink } from "../runtime/log-sink.js";
import { SessionStore } from "./auth.js";
import { DashboardServer, type DashboardApp } from "./dashboard-server.js";
import { fetchLocalhost, localhostLookup } from "./localhost-fetch.js";
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
  const response = await fetchLocalhost(dashboard.loginUrl);
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
    expect((await fetchLocalhost(`${dashboard.browserUrl}/api/resources`)).status).toBe(401);
    const page = await fetchLocalhost(`${dashboard.browserUrl}/traces`);
    expect(page.status).toBe(302);
    expect(page.headers.get("location")).toBe("/login");
    expect((await fetchLocalhost(`${dashboard.browserUrl}/login?t=wrong`)).status).toBe(401);
  });

  it("turns the token into a cookie session that opens the API and the pages", async () => {
    const cookie = await login();
    const resources = (await (
      await fetchLocalhost(`${dashboard.browserUrl}/api/resources`, { headers: { cookie } })
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
    const page = await fetchLocalhost(`${dashboard.browserUrl}/resources`, { headers: { cookie } });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(await page.text()).toContain("/assets/app.js");
    expect(
      (
        await fetchLocalhost(`${dashboard.browserUrl}/api/resources`, {
          headers: { cookie: "apphost_session_1=forged" },
        })
      ).status,
    ).toBe(401);
  });

  it("accepts the token from the login form (same origin only)", async () => {
    const form = { method: "POST", body: `token=${secrets.loginToken}` };
    const headers = { "content-type": "application/x-www-form-urlencoded" };
    const ok = await fetchLocalhost(`${dashboard.browserUrl}/login`, {
      ...form,
      headers: { ...headers, origin: dashboard.browserUrl },
    });
    expect(ok.status).toBe(302);
    const crossSite = await fetchLocalhost(`${dashboard.browserUrl}/login`, {
      ...form,
      headers: { ...headers, origin: "http://evil.example" },
    });
    expect(crossSite.status).toBe(403);
  });

  it("runs resource actions only for same-origin POSTs with a session", async () => {
    const cookie = await login();
    const url = `${dashboard.browserUrl}/api/resources/receiver/restart`;
    expect(
      (await fetchLocalhost(url, { method: "POST", headers: { origin: dashboard.browserUrl } })).status,
    ).toBe(401);
    expect(
      (await fetchLocalhost(url, { method: "POST", headers: { cookie, origin: "http://evil.example" } }))
        .status,
    ).toBe(403);
    expect((await fetchLocalhost(url, { method: "POST", headers: { cookie } })).status).toBe(403);
    expect(
      (await fetchLocalhost(url, { method: "POST", headers: { cookie, origin: dashboard.browserUrl } }))
        .status,
    ).toBe(202);
    expect(calls).toEqual(["restart receiver"]);
    const unknown = await fetchLocalhost(`${dashboard.browserUrl}/api/resources/nope/stop`, {
      method: "POST",
      headers: { cookie, origin: dashboard.browserUrl },
    });
    expect(unknown.status).toBe(404);
  });
});

/** A request with an explicit Host header, to 127.0.0.1 (fetch cannot set Host). */
function withHost(
  pathname: string,
  host: string,
  init: { method?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${dashboard.url}${pathname}`,
      { method: init.method ?? "GET", headers: { ...init.headers, host } },
      (res) => {
        let body = "";
        res.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject).end();
  });
}

describe("dashboard host allowlist", () => {
  it("serves the browser name only: a session cookie with any other Host is refused before the session lookup", async () => {
    const cookie = await login();
    const port = new URL(dashboard.url).port;
    const browserHost = new URL(dashboard.browserUrl).host;
    // Precondition: the cookie works on the dashboard's own name.
    expect((await withHost("/api/resources", browserHost, { headers: { cookie } })).status).toBe(200);
    const lookups = vi.spyOn(SessionStore.prototype, "sessionOf");
    try {
      for (const host of [
        `127.0.0.1:${port}`,
        `localhost:${port}`,
        `apphost-${port}.localhost:${port}`,
        `${browserHost.replace(/:\d+$/, "")}:1`,
        "evil.example",
        "",
      ]) {
        for (const [method, pathname] of [
          ["GET", "/api/resources"],
          ["GET", "/"],
          ["GET", `/login?t=${secrets.loginToken}`],
          ["POST", "/api/resources/receiver/stop"],
        ] as const) {
          const answer = await withHost(pathname, host, {
            method,
            headers: { cookie, origin: `http://${host}` },
          });
          expect(answer.status, `${method} ${pathname} with Host ${JSON.stringify(host)}`).toBe(421);
          // The refusal does not name the dashboard's host (a service could ask for it).
          expect(answer.body).not.toContain(browserHost);
        }
      }
      expect(lookups).not.toHaveBeenCalled();
    } finally {
      lookups.mockRestore();
    }
    expect(calls).toEqual([]);
    // The login token was not consumed through another Host.
    expect((await fetchLocalhost(dashboard.loginUrl)).status).toBe(302);
  });

  it("answers tools (bearer token) and OTLP (API key) on 127.0.0.1, and nothing else there", async () => {
    const machine = new URL(dashboard.url).host;
    expect(
      (
        await withHost("/api/resources", machine, {
          headers: { authorization: `Bearer ${secrets.toolToken}` },
        })
      ).status,
    ).toBe(200);
    expect((await withHost("/api/resources", machine)).status).toBe(421);
    expect((await withHost("/login", machine)).status).toBe(421);
    expect((await withHost("/assets/app.js", machine)).status).toBe(421);
    const otlp = await fetch(`${dashboard.url}/v1/traces`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-otlp-api-key": secrets.otlpApiKey },
      body: JSON.stringify(spanBody),
    });
    expect(otlp.status).toBe(200);
  });

  it("sets a host-only, HttpOnly, SameSite=Strict cookie for the whole path on the browser name", async () => {
    const response = await fetchLocalhost(dashboard.loginUrl);
    const cookie = response.headers.get("set-cookie") ?? "";
    expect(new URL(dashboard.browserUrl).hostname).toMatch(/^apphost-\d+-[0-9a-f]{16}\.localhost$/);
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Strict/);
    expect(cookie).toMatch(/; Path=\//);
    expect(cookie).not.toMatch(/Domain=/i);
  });
});

describe("static assets", () => {
  it("answers 404 to names inherited from Object.prototype, before login", async () => {
    for (const name of ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf"])
      expect((await fetchLocalhost(`${dashboard.browserUrl}/assets/${name}`)).status, name).toBe(404);
    expect((await fetchLocalhost(`${dashboard.browserUrl}/assets/app.js`)).status).toBe(200);
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
      await fetchLocalhost(`${dashboard.browserUrl}/api/traces`, { headers: { cookie } })
    ).json()) as Array<{
      traceId: string;
      durationMs: number;
    }>;
    expect(traces).toEqual([
      expect.objectContaining({ traceId: "0af7651916cd43dd8448eb211c80319c", durationMs: 5 }),
    ]);
    const detail = await fetchLocalhost(
      `${dashboard.browserUrl}/api/traces/0af7651916cd43dd8448eb211c80319c`,
      {
        headers: { cookie },
      },
    );
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
        `${dashboard.browserUrl}/api/console/stream?resource=receiver`,
        { headers: { cookie }, lookup: localhostLookup },
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
