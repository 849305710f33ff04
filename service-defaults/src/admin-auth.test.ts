import http from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { adminTokensFromEnv, hostAllowed, isAdminRoute, tokenMatches } from "./admin-auth.js";
import { ConfigError } from "./config.js";
import { ServiceHost, type ServiceHostOptions } from "./host.js";
import { createLogger } from "./logging.js";

const TOKEN = "a".repeat(32);
const ROTATED = "b".repeat(40);

const hosts: ServiceHost[] = [];
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.stop()));
});

async function startHost(opts: Partial<ServiceHostOptions> = {}): Promise<string> {
  const host = new ServiceHost({
    name: "admin-test",
    version: "1.0.0",
    logger: createLogger("test", "silent"),
    port: 0,
    handleSignals: false,
    admin: { routePrefixes: ["/api/admin"], tokens: [TOKEN, ROTATED] },
    ...opts,
  });
  hosts.push(host);
  host.route({
    method: "post",
    path: "/api/admin/things/:id/replay",
    summary: "Admin action",
    responses: { 204: { description: "Done" } },
    handler: ({ res }) => void res.status(204).end(),
  });
  host.route({
    method: "get",
    path: "/api/public",
    summary: "Public",
    responses: { 200: { description: "OK" } },
    handler: ({ res }) => void res.json({ ok: true }),
  });
  return (await host.start()).url;
}

function rawGet(url: string, hostHeader: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { headers: { host: hostHeader } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
}

describe("admin tokens", () => {
  it("matches any configured token and nothing else", () => {
    expect(tokenMatches(TOKEN, [TOKEN, ROTATED])).toBe(true);
    expect(tokenMatches(ROTATED, [TOKEN, ROTATED])).toBe(true);
    expect(tokenMatches(TOKEN.slice(1), [TOKEN])).toBe(false);
    expect(tokenMatches(`${TOKEN}a`, [TOKEN])).toBe(false);
    expect(tokenMatches(undefined, [TOKEN])).toBe(false);
    expect(tokenMatches("", [])).toBe(false);
  });

  it("reads ADMIN_TOKEN and the ADMIN_TOKENS list, and refuses short tokens", () => {
    expect(adminTokensFromEnv({ ADMIN_TOKEN: TOKEN, ADMIN_TOKENS: ` ${ROTATED} ,, ` })).toEqual([
      TOKEN,
      ROTATED,
    ]);
    expect(adminTokensFromEnv({})).toEqual([]);
    expect(() => adminTokensFromEnv({ ADMIN_TOKEN: "short" })).toThrow(ConfigError);
    expect(() => adminTokensFromEnv({ ADMIN_TOKEN: "short" })).toThrow(/ADMIN_TOKEN/);
  });

  it("recognises admin routes by declared path, case-insensitively", () => {
    expect(isAdminRoute("/api/outbox/messages/:id", ["/api/outbox"])).toBe(true);
    expect(isAdminRoute("/api/outbox", ["/api/outbox/"])).toBe(true);
    expect(isAdminRoute("/api/DeadLetters/count", ["/api/deadletters"])).toBe(true);
    expect(isAdminRoute("/api/outboxes", ["/api/outbox"])).toBe(false);
    expect(isAdminRoute("/api/EntityItems", ["/api/outbox"])).toBe(false);
  });
});

describe("Host allowlist", () => {
  it("accepts IP literals, localhost and listed names; refuses other names and garbage", () => {
    const allowed = ["localhost", "127.0.0.1", "sender"];
    for (const ok of [
      "127.0.0.1:8080",
      "[::1]:80",
      "10.1.2.3",
      "localhost:3000",
      "LOCALHOST",
      "sender:80",
      "localhost.",
    ])
      expect(hostAllowed(ok, allowed), ok).toBe(true);
    for (const bad of [
      "evil.example",
      "evil.example:80",
      "localhost.evil.example",
      "a:b:c",
      "",
      ":80",
      "[::1",
    ])
      expect(hostAllowed(bad, allowed), bad).toBe(false);
    expect(hostAllowed(undefined, allowed)).toBe(false);
    expect(hostAllowed("anything", "any")).toBe(true);
  });
});

describe("ServiceHost with admin routes", () => {
  it("answers 401 problem+json without a valid bearer token, and serves it with one", async () => {
    const url = await startHost();
    const target = `${url}/api/admin/things/1/replay`;
    const attempts: Array<Record<string, string>> = [
      {},
      { authorization: `Bearer ${TOKEN.slice(1)}` },
      { authorization: TOKEN },
      { authorization: `Basic ${TOKEN}` },
    ];
    for (const headers of attempts) {
      const response = await fetch(target, { method: "POST", headers });
      expect(response.status).toBe(401);
      expect(response.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      expect(response.headers.get("www-authenticate")).toBe('Bearer realm="admin"');
      expect(await response.json()).toMatchObject({ status: 401, title: "Unauthorized" });
    }
    // Express matches routes case-insensitively: the guard sits on the route, so every spelling is covered.
    expect((await fetch(`${url}/API/ADMIN/things/1/replay`, { method: "POST" })).status).toBe(401);
    expect((await fetch(`${url}/api/admin/things/1/replay/`, { method: "POST" })).status).toBe(401);
    expect(
      (await fetch(target, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` } })).status,
    ).toBe(204);
    expect(
      (await fetch(target, { method: "POST", headers: { authorization: `bearer ${ROTATED}` } })).status,
    ).toBe(204);
    // The public API keeps its own rules.
    expect((await fetch(`${url}/api/public`)).status).toBe(200);
  });

  it("refuses every admin call when no token is configured", async () => {
    const url = await startHost({ admin: { routePrefixes: ["/api/admin"], tokens: [] } });
    const response = await fetch(`${url}/api/admin/things/1/replay`, {
      method: "POST",
      headers: { authorization: "Bearer " },
    });
    expect(response.status).toBe(401);
    expect(((await response.json()) as { detail: string }).detail).toMatch(/no ADMIN_TOKEN/);
  });

  it("documents the bearer scheme on admin operations only, so Swagger UI's Authorize works", async () => {
    const url = await startHost();
    const doc = (await (await fetch(`${url}/openapi.json`)).json()) as {
      components: { securitySchemes: Record<string, unknown> };
      paths: Record<string, Record<string, { security?: unknown; responses: Record<string, unknown> }>>;
    };
    expect(doc.components.securitySchemes.adminBearer).toMatchObject({ type: "http", scheme: "bearer" });
    const admin = doc.paths["/api/admin/things/{id}/replay"]?.post;
    expect(admin?.security).toEqual([{ adminBearer: [] }]);
    expect(admin?.responses["401"]).toBeDefined();
    expect(doc.paths["/api/public"]?.get?.security).toBeUndefined();
  });

  it("refuses a Host header that is not allowed (DNS rebinding) with 403", async () => {
    const url = await startHost({ allowedHosts: ["localhost", "sender"] });
    expect(await rawGet(`${url}/api/public`, "evil.example")).toBe(403);
    expect(await rawGet(`${url}/health`, "rebind.evil.example:8080")).toBe(403);
    expect(await rawGet(`${url}/api/public`, "sender:8080")).toBe(200);
    expect(await rawGet(`${url}/api/public`, "127.0.0.1")).toBe(200);
  });
});
