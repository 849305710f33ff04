import http from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { ServiceHost, type ServiceHostOptions } from "./host.js";
import { createLogger } from "./logging.js";
import { HttpProblem, problemResponseSchema } from "@outbox/messaging";

const hosts: ServiceHost[] = [];
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.stop()));
});

function newHost(opts: Partial<ServiceHostOptions> = {}): ServiceHost {
  const host = new ServiceHost({
    name: "test-service",
    version: "1.2.3",
    logger: createLogger("test", "silent"),
    port: 0,
    handleSignals: false,
    ...opts,
  });
  hosts.push(host);
  return host;
}

const itemBody = z.strictObject({
  name: z.string().trim().min(1).max(200),
  description: z.string().max(2000).nullable().optional(),
});

function withItemRoute(host: ServiceHost): ServiceHost {
  return host.route({
    method: "post",
    path: "/api/items/:group",
    summary: "Create an item",
    tags: ["items"],
    operationId: "createItem",
    request: { params: z.object({ group: z.enum(["a", "b"]) }), body: itemBody },
    responses: {
      201: {
        description: "Created",
        schema: z.object({ group: z.string(), name: z.string() }),
        headers: { Location: "The new item" },
      },
      409: { description: "Conflict", schema: problemResponseSchema },
    },
    handler: ({ params, body, res }) => {
      if (body.name === "taken") throw new HttpProblem(409, "Conflict", "name taken", { name: body.name });
      res.status(201).json({ group: params.group, name: body.name });
    },
  });
}

async function postJson(url: string, body: string): Promise<Response> {
  return fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body });
}

interface ProblemJson {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  errors?: { path: string; message: string; location?: string }[];
  [key: string]: unknown;
}

async function problem(res: Response): Promise<ProblemJson> {
  expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  return (await res.json()) as ProblemJson;
}

describe("ServiceHost routes and errors", () => {
  it("validates params/body before the handler and trims input", async () => {
    const { url } = await withItemRoute(newHost()).start();
    const ok = await postJson(`${url}/api/items/a`, JSON.stringify({ name: "  widget " }));
    expect(ok.status).toBe(201);
    expect(await ok.json()).toEqual({ group: "a", name: "widget" });

    const bad = await postJson(
      `${url}/api/items/zzz`,
      JSON.stringify({ name: "", description: 5, extra: 1 }),
    );
    expect(bad.status).toBe(400);
    const body = await problem(bad);
    expect(body).toMatchObject({ title: "Validation failed", status: 400, instance: "/api/items/zzz" });
    expect(body.errors?.map((e) => `${e.location}:${e.path}`).sort()).toEqual([
      "body:description",
      "body:extra",
      "body:name",
      "params:group",
    ]);
  });

  it("answers a non-object JSON body with a 400 at the root path", async () => {
    const { url } = await withItemRoute(newHost()).start();
    for (const payload of ["[1,2]", '"text"', "null"]) {
      const res = await postJson(`${url}/api/items/a`, payload);
      expect(res.status).toBe(400);
      expect((await problem(res)).errors).toEqual([expect.objectContaining({ path: "", location: "body" })]);
    }
  });

  it("answers malformed JSON with 400 Malformed JSON", async () => {
    const { url } = await withItemRoute(newHost()).start();
    const res = await postJson(`${url}/api/items/a`, '{"name": ');
    expect(res.status).toBe(400);
    expect(await problem(res)).toMatchObject({ title: "Malformed JSON", status: 400 });
  });

  it("answers a body over the limit with 413", async () => {
    const { url } = await withItemRoute(newHost({ bodyLimit: "1kb" })).start();
    const res = await postJson(`${url}/api/items/a`, JSON.stringify({ name: "x".repeat(5000) }));
    expect(res.status).toBe(413);
    expect(await problem(res)).toMatchObject({ status: 413, title: "Payload Too Large" });
  });

  it("answers a non-JSON content type with 415", async () => {
    const { url } = await withItemRoute(newHost()).start();
    const res = await fetch(`${url}/api/items/a`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "x",
    });
    expect(res.status).toBe(415);
  });

  it("answers unknown routes with a 404 problem", async () => {
    const { url } = await newHost().start();
    const res = await fetch(`${url}/nowhere?x=1`);
    expect(res.status).toBe(404);
    expect(await problem(res)).toMatchObject({ status: 404, title: "Not Found", instance: "/nowhere" });
  });

  it("uses the status of an HttpProblem and keeps its extras", async () => {
    const { url } = await withItemRoute(newHost()).start();
    const res = await postJson(`${url}/api/items/b`, JSON.stringify({ name: "taken" }));
    expect(res.status).toBe(409);
    expect(await problem(res)).toMatchObject({ title: "Conflict", detail: "name taken", name: "taken" });
  });

  it("hides the message and stack of unexpected errors", async () => {
    const host = newHost().route({
      method: "get",
      path: "/boom",
      summary: "fails",
      responses: { 200: { description: "never" } },
      handler: async () => {
        await Promise.resolve();
        throw new Error("password=hunter2 at db.ts:12");
      },
    });
    const { url } = await host.start();
    const res = await fetch(`${url}/boom`);
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(text).not.toContain("hunter2");
    expect(text).not.toContain("db.ts");
    expect(JSON.parse(text)).toMatchObject({ status: 500, title: "Internal Server Error" });
  });

  it("validates and coerces query strings", async () => {
    const host = newHost().route({
      method: "get",
      path: "/list",
      summary: "list",
      request: { query: z.object({ page: z.coerce.number().int().min(1).default(1) }) },
      responses: { 200: { description: "ok" } },
      handler: ({ query, res }) => {
        res.json({ page: query.page, type: typeof query.page });
      },
    });
    const { url } = await host.start();
    expect(await (await fetch(`${url}/list?page=4`)).json()).toEqual({ page: 4, type: "number" });
    const bad = await fetch(`${url}/list?page=0`);
    expect(bad.status).toBe(400);
    expect((await problem(bad)).errors?.[0]).toMatchObject({ path: "page", location: "query" });
  });

  it("refuses routes registered after start", async () => {
    const host = newHost();
    await host.start();
    expect(() => withItemRoute(host)).toThrow(/after start/);
  });
});

describe("ServiceHost health", () => {
  it("/alive is always 200", async () => {
    const { url } = await newHost()
      .addHealthCheck("bad", () => ({ status: "unhealthy" }))
      .start();
    const res = await fetch(`${url}/alive`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "alive" });
  });

  it("/health is 200 when healthy or degraded, with per-check details", async () => {
    const host = newHost()
      .addHealthCheck("database", () => ({ status: "healthy", data: { pool: 3 } }))
      .addHealthCheck("broker", () => Promise.resolve({ status: "degraded" as const, detail: "slow" }));
    const { url } = await host.start();
    const res = await fetch(`${url}/health`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      status: string;
      checks: Record<string, { status: string; durationMs: number }>;
    };
    expect(body.status).toBe("degraded");
    expect(body.checks.database).toMatchObject({ status: "healthy", data: { pool: 3 } });
    expect(body.checks.broker).toMatchObject({ status: "degraded", detail: "slow" });
    expect(typeof body.checks.database?.durationMs).toBe("number");
  });

  it("/health is 503 when a check is unhealthy or times out", async () => {
    const host = newHost({ healthCheckTimeoutMs: 100 })
      .addHealthCheck("database", () => ({ status: "healthy" }))
      .addHealthCheck("hung", () => new Promise(() => undefined));
    const { url } = await host.start();
    const res = await fetch(`${url}/health`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({
      status: "unhealthy",
      checks: {
        database: { status: "healthy" },
        hung: { status: "unhealthy", detail: "timed out after 100 ms" },
      },
    });
  });
});

describe("ServiceHost OpenAPI and Swagger UI", () => {
  it("serves a document with registered routes, their body schema, health and problems", async () => {
    const { url } = await withItemRoute(newHost({ description: "desc" })).start();
    const doc = (await (await fetch(`${url}/openapi.json`)).json()) as {
      openapi: string;
      info: { title: string; version: string };
      paths: Record<string, Record<string, Record<string, unknown>>>;
      components: { schemas: Record<string, unknown> };
    };
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.info).toMatchObject({ title: "test-service", version: "1.2.3" });
    const op = doc.paths["/api/items/{group}"]?.post as {
      operationId: string;
      requestBody: {
        content: Record<string, { schema: { properties: Record<string, unknown>; required: string[] } }>;
      };
      responses: Record<string, { content?: Record<string, unknown>; headers?: Record<string, unknown> }>;
      parameters: { name: string; in: string }[];
    };
    expect(op.operationId).toBe("createItem");
    const bodySchema = op.requestBody.content["application/json"]?.schema;
    expect(Object.keys(bodySchema?.properties ?? {})).toEqual(["name", "description"]);
    expect(bodySchema?.required).toEqual(["name"]);
    expect(op.parameters).toEqual([expect.objectContaining({ name: "group", in: "path" })]);
    expect(Object.keys(op.responses).sort()).toEqual(["201", "400", "409", "413", "415", "500"]);
    expect(op.responses["400"]?.content).toHaveProperty("application/problem+json");
    expect(op.responses["201"]?.headers).toHaveProperty("Location");
    expect(doc.paths["/health"]?.get).toBeDefined();
    expect(doc.paths["/alive"]?.get).toBeDefined();
    expect(doc.components.schemas).toHaveProperty("Problem");
  });

  it("serves Swagger UI with its assets", async () => {
    const { url } = await withItemRoute(newHost()).start();
    const redirect = await fetch(`${url}/swagger`, { redirect: "manual" });
    expect(redirect.status).toBe(301);
    expect(redirect.headers.get("location")).toBe("/swagger/");
    const page = await fetch(`${url}/swagger/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/text\/html/);
    const html = await page.text();
    expect(html).toContain("swagger-ui-bundle.js");
    const bundle = await fetch(`${url}/swagger/swagger-ui-bundle.js`);
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get("content-type")).toMatch(/javascript/);
    await bundle.arrayBuffer();
    const init = await (await fetch(`${url}/swagger/swagger-ui-init.js`)).text();
    expect(init).toContain("/api/items/{group}");
  });
});

describe("ServiceHost shutdown", () => {
  it("drains an in-flight request, refuses new connections, then runs hooks in reverse", async () => {
    let entered!: () => void;
    const enteredP = new Promise<void>((r) => (entered = r));
    let release!: () => void;
    const releaseP = new Promise<void>((r) => (release = r));
    const order: string[] = [];
    const host = newHost()
      .route({
        method: "get",
        path: "/slow",
        summary: "slow",
        responses: { 200: { description: "ok" } },
        handler: async ({ res }) => {
          entered();
          await releaseP;
          res.json({ done: true });
        },
      })
      .onShutdown("first", async () => {
        order.push("first");
        await Promise.resolve();
      })
      .onShutdown("failing", () => Promise.reject(new Error("nope")))
      .onShutdown("last", async () => {
        order.push("last");
        await Promise.resolve();
      });
    const { url } = await host.start();
    const slow = fetch(`${url}/slow`);
    await enteredP;
    const stopped = host.stop();
    expect(host.stop()).toBe(stopped);
    await expect(getWithFreshConnection(`${url}/alive`)).rejects.toThrow(/ECONNREFUSED/);
    expect(order).toEqual([]);
    release();
    const res = await slow;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ done: true });
    await stopped;
    expect(order).toEqual(["last", "first"]);
  });

  it("does not wait on idle keep-alive connections", async () => {
    const { url } = await newHost().start();
    await getWithFreshConnection(`${url}/alive`, new http.Agent({ keepAlive: true }));
    const began = performance.now();
    await hosts[0]!.stop();
    expect(performance.now() - began).toBeLessThan(2_000);
  });

  it("gives up on requests that outlast the shutdown timeout", async () => {
    const host = newHost({ shutdownTimeoutMs: 200 }).route({
      method: "get",
      path: "/hang",
      summary: "hangs",
      responses: { 200: { description: "never" } },
      handler: () => new Promise<void>(() => undefined),
    });
    let hookRan = false;
    host.onShutdown("after", async () => {
      hookRan = true;
      await Promise.resolve();
    });
    const { url } = await host.start();
    const hanging = getWithFreshConnection(`${url}/hang`);
    await new Promise((r) => setTimeout(r, 50));
    await host.stop();
    expect(hookRan).toBe(true);
    await expect(hanging).rejects.toThrow();
  });
});

/** A GET on its own socket (fetch's pool could reuse a kept-alive one). */
function getWithFreshConnection(url: string, agent: http.Agent | false = false): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
  });
}
