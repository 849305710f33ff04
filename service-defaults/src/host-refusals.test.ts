import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { ServiceHost } from "./host.js";
import { isTransientConnectionError } from "./postgres-availability.js";
import { createLogger } from "./logging.js";

// What an OpenAPI fuzzer found: 404 instead of 405 for a method a path does not have, and a 500
// for JSON text containing U+0000 (PostgreSQL refuses it).
const hosts: ServiceHost[] = [];
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.stop()));
});

async function startHost(): Promise<string> {
  const host = new ServiceHost({
    name: "refusals",
    version: "1.0.0",
    logger: createLogger("test", "silent"),
    port: 0,
    handleSignals: false,
  });
  hosts.push(host);
  host.route({
    method: "get",
    path: "/api/items/:id",
    summary: "Get",
    request: { params: z.object({ id: z.string() }) },
    responses: { 200: { description: "OK" } },
    handler: ({ res }) => void res.json({}),
  });
  host.route({
    method: "put",
    path: "/api/items/:id",
    summary: "Replace",
    request: { params: z.object({ id: z.string() }), body: z.object({ name: z.string() }) },
    responses: { 200: { description: "OK" } },
    handler: ({ body, res }) => void res.json(body),
  });
  host.route({
    method: "get",
    path: "/api/items/count",
    summary: "Count",
    responses: {
      200: {
        description: "OK",
        headers: {
          "X-Total": "Always sent",
          "X-Cached": { description: "Only when served from cache", optional: true },
        },
      },
    },
    handler: ({ res }) => void res.set("X-Total", "0").json({ count: 0 }),
  });
  return (await host.start()).url;
}

describe("ServiceHost refusals", () => {
  it("answers 405 with Allow for a method the path does not have, 404 for an unknown path", async () => {
    const url = await startHost();
    const response = await fetch(`${url}/api/items/1`, { method: "DELETE" });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("GET, HEAD, PUT");
    expect(response.headers.get("content-type")).toMatch(/application\/problem\+json/);
    expect((await fetch(`${url}/health`, { method: "POST" })).status).toBe(405);
    expect((await fetch(`${url}/api/nothing`, { method: "DELETE" })).status).toBe(404);
  });

  it("refuses U+0000 and unpaired surrogates in the body with 400, naming the field", async () => {
    const url = await startHost();
    const put = (raw: string) =>
      fetch(`${url}/api/items/1`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: raw,
      });
    const nul = await put('{"name":"a\\u0000b"}');
    expect(nul.status).toBe(400);
    expect(((await nul.json()) as { errors: Array<{ path: string }> }).errors[0]?.path).toBe("name");
    expect((await put('{"name":"\\ud800"}')).status).toBe(400);
    expect((await put('{"name":"emoji \\ud83d\\ude00 ok"}')).status).toBe(200);
  });

  it("answers 405 for a method of a parameter path when a more specific literal path matches", async () => {
    const url = await startHost();
    // Without the precedence, PUT /api/items/count reached the {id} route and Allow listed PUT.
    const response = await fetch(`${url}/api/items/count`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: '{"name":"x"}',
    });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("GET, HEAD");
    expect((await fetch(`${url}/api/items/count`)).status).toBe(200);
    expect((await fetch(`${url}/api/items/7`, { method: "DELETE" })).headers.get("allow")).toBe(
      "GET, HEAD, PUT",
    );
  });

  it("documents a response header as required only when it is always sent", async () => {
    const url = await startHost();
    const document = (await (await fetch(`${url}/openapi.json`)).json()) as {
      paths: Record<
        string,
        { get: { responses: Record<string, { headers: Record<string, { required: boolean }> }> } }
      >;
    };
    const headers = document.paths["/api/items/count"]?.get.responses["200"]?.headers;
    expect(headers?.["X-Total"]?.required).toBe(true);
    expect(headers?.["X-Cached"]?.required).toBe(false);
  });

  it("answers 503 for an unreachable dependency and documents 503 on every route, 413/415 on body routes", async () => {
    const host = new ServiceHost({
      name: "unavailable",
      version: "1.0.0",
      logger: createLogger("test", "silent"),
      port: 0,
      handleSignals: false,
      unavailableWhen: isTransientConnectionError,
    });
    hosts.push(host);
    host.route({
      method: "get",
      path: "/api/down",
      summary: "Database down",
      responses: { 200: { description: "OK" } },
      handler: () => {
        throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
      },
    });
    host.route({
      method: "post",
      path: "/api/items",
      summary: "Create",
      request: { body: z.object({ name: z.string() }) },
      responses: { 201: { description: "Created" } },
      handler: ({ res }) => void res.status(201).end(),
    });
    host.route({
      method: "get",
      path: "/api/busy",
      summary: "Every pooled connection busy",
      responses: { 200: { description: "OK" } },
      handler: () => {
        throw new Error("Failed query: select 1", {
          cause: new Error("timeout exceeded when trying to connect"),
        });
      },
    });
    const { url } = await host.start();
    const down = await fetch(`${url}/api/down`);
    expect(down.status).toBe(503);
    expect(down.headers.get("content-type")).toMatch(/application\/problem\+json/);
    expect(down.headers.get("retry-after")).toBe("5");
    expect(((await down.json()) as { detail: string }).detail).toMatch(/unreachable/);
    // A busy pool is said to be busy, and a sooner retry is suggested.
    const busy = await fetch(`${url}/api/busy`);
    expect(busy.status).toBe(503);
    expect(busy.headers.get("retry-after")).toBe("1");
    expect(((await busy.json()) as { detail: string }).detail).toMatch(/busy/);
    const document = (await (await fetch(`${url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    };
    expect(Object.keys(document.paths["/api/down"]?.get?.responses ?? {})).toContain("503");
    expect(Object.keys(document.paths["/api/items"]?.post?.responses ?? {})).toEqual(
      expect.arrayContaining(["400", "413", "415", "503"]),
    );
  });
});
