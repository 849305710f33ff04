import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DistributedApplication } from "@outbox/apphost";
import { startTestApp, stopTestApp } from "@outbox/apphost/testing";
import { DashboardServer } from "../apphost/src/dashboard/dashboard-server.js";
import { fetchLocalhost } from "../apphost/src/dashboard/localhost-fetch.js";

// Every admin route of both services, as the AppHost runs them: 401 problem+json without the
// token it injected, served with it; the public API, Swagger and the dashboard's replay keep working.

let app: DistributedApplication;
let sender: string;
let receiver: string;
let dashboard: DashboardServer | undefined;

const ID = "00000000-0000-4000-8000-000000000000";
const ADMIN_ROUTES: Array<[service: "sender" | "receiver", method: string, path: string]> = [
  ["sender", "GET", "/api/outbox/messages?status=dead"],
  ["sender", "GET", `/api/outbox/messages/${ID}`],
  ["sender", "POST", `/api/outbox/messages/${ID}/retry`],
  ["sender", "POST", "/api/outbox/dead/replay"],
  ["sender", "DELETE", `/api/outbox/messages/${ID}`],
  ["sender", "GET", "/api/outbox/stats"],
  ["sender", "POST", "/API/OUTBOX/DEAD/REPLAY"],
  ["sender", "GET", "/api/outbox/receipt-dead-letters"],
  ["sender", "GET", "/api/outbox/receipt-dead-letters/count"],
  ["sender", "POST", "/api/outbox/receipt-dead-letters/1/replay"],
  ["sender", "POST", "/api/outbox/receipt-dead-letters/replay"],
  ["sender", "DELETE", "/api/outbox/receipt-dead-letters/1"],
  ["receiver", "GET", "/api/DeadLetters"],
  ["receiver", "GET", "/api/DeadLetters/count"],
  ["receiver", "POST", "/api/DeadLetters/1/replay"],
  ["receiver", "POST", "/api/DeadLetters/replay"],
  ["receiver", "DELETE", "/api/DeadLetters/1"],
  ["receiver", "GET", "/api/DeliveryFailures"],
  ["receiver", "GET", "/api/deadletters"],
  ["receiver", "GET", `/api/messages/${ID}`],
  ["receiver", "GET", "/api/consumer-groups"],
];

beforeAll(async () => {
  app = await startTestApp();
  sender = app.getEndpoint("sender");
  receiver = app.getEndpoint("receiver");
});

afterAll(async () => {
  await dashboard?.close();
  await stopTestApp(app);
});

function token(service: "sender" | "receiver"): string {
  const value = app.environmentOf(service)?.ADMIN_TOKEN;
  if (!value) throw new Error(`no ADMIN_TOKEN injected into ${service}`);
  return value;
}

function rawStatus(url: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
}

describe("admin APIs", () => {
  it("the AppHost injects a distinct generated token into each service", () => {
    expect(token("sender")).toMatch(/^[A-Za-z0-9]{24,}$/);
    expect(token("receiver")).toMatch(/^[A-Za-z0-9]{24,}$/);
    expect(token("sender")).not.toBe(token("receiver"));
  });

  it("answers 401 problem+json to every admin route without a valid token", async () => {
    const failures: string[] = [];
    for (const [service, method, path] of ADMIN_ROUTES) {
      const base = service === "sender" ? sender : receiver;
      const other = service === "sender" ? token("receiver") : token("sender");
      for (const authorization of [undefined, `Bearer ${other}`, `Bearer ${token(service)}x`]) {
        const response = await fetch(base + path, {
          method,
          headers: authorization ? { authorization } : {},
        });
        const type = response.headers.get("content-type") ?? "";
        if (response.status !== 401 || !type.startsWith("application/problem+json"))
          failures.push(
            `${method} ${service}${path} (${authorization ? "wrong" : "no"} token) -> ${response.status} ${type}`,
          );
      }
    }
    expect(failures).toEqual([]);
  });

  it("serves admin routes with the service's token", async () => {
    const auth = (service: "sender" | "receiver") => ({ authorization: `Bearer ${token(service)}` });
    expect((await fetch(`${sender}/api/outbox/stats`, { headers: auth("sender") })).status).toBe(200);
    expect((await fetch(`${sender}/api/outbox/messages/${ID}`, { headers: auth("sender") })).status).toBe(
      404,
    );
    expect((await fetch(`${receiver}/api/DeadLetters/count`, { headers: auth("receiver") })).status).toBe(
      200,
    );
    expect((await fetch(`${receiver}/api/DeliveryFailures`, { headers: auth("receiver") })).status).toBe(200);
  });

  it("leaves the public API to its own rules", async () => {
    const created = await fetch(`${sender}/api/EntityItems`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "public" }),
    });
    expect(created.status).toBe(201);
    expect((await fetch(`${receiver}/api/ReceivedItems`)).status).toBe(200);
  });

  it("refuses Host names outside the allowlist (DNS rebinding)", async () => {
    expect(await rawStatus(`${sender}/api/EntityItems`, "attacker.example")).toBe(403);
    expect(await rawStatus(`${receiver}/api/DeadLetters/count`, "attacker.example:80")).toBe(403);
    expect(await rawStatus(`${sender}/health`, "localhost")).toBe(200);
  });

  it("documents the bearer scheme so Swagger UI's Authorize works", async () => {
    for (const base of [sender, receiver]) {
      const doc = (await (await fetch(`${base}/openapi.json`)).json()) as {
        components: { securitySchemes?: Record<string, { type: string; scheme: string }> };
        paths: Record<string, Record<string, { security?: unknown }>>;
      };
      expect(doc.components.securitySchemes?.adminBearer).toMatchObject({ type: "http", scheme: "bearer" });
      const secured = Object.entries(doc.paths).flatMap(([path, ops]) =>
        Object.entries(ops)
          .filter(([, op]) => op.security !== undefined)
          .map(([method]) => `${method} ${path}`),
      );
      expect(secured.length).toBeGreaterThan(0);
      expect(secured.some((s) => s.includes("EntityItems") || s.includes("ReceivedItems"))).toBe(false);
      expect((await fetch(`${base}/swagger/`)).status).toBe(200);
    }
  });

  it("the dashboard's replay buttons and messaging view use the injected token", async () => {
    const server = new DashboardServer({
      port: 0,
      secrets: { loginToken: "l".repeat(48), otlpApiKey: "k".repeat(48), toolToken: "b".repeat(48) },
    });
    dashboard = server;
    await server.listen();
    server.attach(app);
    // As a browser does: the dashboard answers sessions only on its *.localhost name.
    const login = await fetchLocalhost(server.loginUrl);
    const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    const post = (path: string) =>
      fetchLocalhost(server.browserUrl + path, {
        method: "POST",
        headers: { cookie, origin: server.browserUrl },
      });
    const outbox = await post("/api/messaging/sender/replay/outbox-dead");
    expect(outbox.status).toBe(200);
    expect(await outbox.json()).toHaveProperty("replayed");
    const dead = await post("/api/messaging/receiver/replay/dead-letters");
    expect(dead.status).toBe(200);
    const state = (await (
      await fetchLocalhost(`${server.browserUrl}/api/messaging?refresh=true`, { headers: { cookie } })
    ).json()) as Array<{ resource: string; outbox?: unknown[]; deadLetters?: unknown[]; error?: string }>;
    expect(state.find((s) => s.resource === "sender")?.outbox?.length).toBeGreaterThan(0);
    expect(state.find((s) => s.resource === "receiver")?.deadLetters?.length).toBeGreaterThan(0);
    expect(state.every((s) => s.error === undefined)).toBe(true);
  });
});
