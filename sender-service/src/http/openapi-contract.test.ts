import { MAX_BROWSE, outboxAdminRoutes, type DeadLetterQueue } from "@outbox/messaging";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger, ServiceHost } from "@outbox/service-defaults";
import type { Database } from "../data/db.js";
import { registerEntityItemRoutes } from "./entity-items-routes.js";
import { outbox } from "../messaging/outbox.js";
import { registerReceiptDeadLetterRoutes } from "./receipt-dead-letter-routes.js";
import { createEntityItemSchema } from "./schemas.js";

// Where the OpenAPI fuzzer (test/openapi-fuzz.test.ts) found the sender's document and behaviour
// disagreeing. Every request here is answered before the handler reaches the database.
const TOKEN = "t".repeat(24);
const unreachable = new Proxy({} as Database, {
  get: () => {
    throw new Error("the database must not be reached");
  },
});

const hosts: ServiceHost[] = [];
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.stop()));
});

async function startSender(): Promise<string> {
  const host = new ServiceHost({
    name: "sender-service",
    version: "0.0.0",
    logger: createLogger("test", "silent"),
    port: 0,
    handleSignals: false,
    admin: { routePrefixes: ["/api/outbox"], tokens: [TOKEN] },
  });
  hosts.push(host);
  registerEntityItemRoutes(host, {
    db: unreachable,
    outboxAddress: "entity-items",
    idempotencyKeyTtlMs: 1000,
  });
  for (const spec of outboxAdminRoutes({ outbox, db: unreachable })) host.route(spec);
  registerReceiptDeadLetterRoutes(host, { db: unreachable, dlq: unreachable as unknown as DeadLetterQueue });
  return (await host.start()).url;
}

interface Operation {
  parameters?: Array<{ name: string; in: string; required: boolean; schema: Record<string, unknown> }>;
  responses: Record<string, { headers?: Record<string, { required: boolean }> }>;
}

async function operation(url: string, path: string, method: string): Promise<Operation> {
  const document = (await (await fetch(`${url}/openapi.json`)).json()) as {
    paths: Record<string, Record<string, Operation>>;
  };
  const found = document.paths[path]?.[method];
  if (found === undefined) throw new Error(`${method} ${path} is not documented`);
  return found;
}

describe("sender API: document and behaviour agree", () => {
  it("bounds olderThanMs (3658242619128320 made PostgreSQL fail: a 500) and says so", async () => {
    const url = await startSender();
    const purge = await fetch(`${url}/api/outbox/published/purge?olderThanMs=3658242619128320`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(purge.status).toBe(400);
    const { parameters } = await operation(url, "/api/outbox/published/purge", "post");
    expect(parameters?.find((p) => p.name === "olderThanMs")?.schema).toMatchObject({
      type: "integer",
      minimum: 0,
      maximum: 100 * 365 * 24 * 3600 * 1000,
    });
  });

  it("documents If-Match as required, and answers 428 without it", async () => {
    const url = await startSender();
    const put = await fetch(`${url}/api/EntityItems/01981a2b-3c4d-7e5f-8a9b-0c1d2e3f4a5b`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "renamed" }),
    });
    expect(put.status).toBe(428);
    const { parameters, responses } = await operation(url, "/api/EntityItems/{id}", "put");
    expect(parameters?.find((p) => p.name === "if-match")?.required).toBe(true);
    expect(Object.keys(responses)).toEqual(expect.arrayContaining(["412", "422", "428"]));
  });

  it("documents Idempotent-Replayed as present only on replays", async () => {
    const url = await startSender();
    for (const [path, method, status] of [
      ["/api/EntityItems", "post", "201"],
      ["/api/EntityItems/{id}", "put", "200"],
    ] as const) {
      const headers = (await operation(url, path, method)).responses[status]?.headers;
      expect(headers?.["Idempotent-Replayed"]?.required, `${method} ${path}`).toBe(false);
    }
  });

  it("bounds the receipt DLQ listing by what the broker lists, and documents 404 and 503", async () => {
    const url = await startSender();
    const admin = { headers: { authorization: `Bearer ${TOKEN}` } };
    const base = "/api/outbox/receipt-dead-letters";
    expect((await fetch(`${url}${base}?limit=${MAX_BROWSE + 1}`, admin)).status).toBe(400);
    expect((await fetch(`${url}${base}?limit=0`, admin)).status).toBe(400);
    expect((await fetch(`${url}${base}/x/replay`, { ...admin, method: "POST" })).status).toBe(400);
    const { parameters, responses } = await operation(url, base, "get");
    expect(parameters?.find((p) => p.name === "limit")?.schema).toMatchObject({
      type: "integer",
      minimum: 1,
      maximum: MAX_BROWSE,
    });
    expect(Object.keys(responses)).toEqual(expect.arrayContaining(["200", "401", "503"]));
    for (const [path, method] of [
      [`${base}/{id}/replay`, "post"],
      [`${base}/{id}`, "delete"],
    ] as const) {
      expect(Object.keys((await operation(url, path, method)).responses)).toEqual(
        expect.arrayContaining(["204", "400", "401", "404", "503"]),
      );
    }
  });

  it("counts a name's length in characters (150 emoji fit in 200) and refuses a blank one", () => {
    expect(createEntityItemSchema.safeParse({ name: "😀".repeat(150) }).success).toBe(true);
    expect(createEntityItemSchema.safeParse({ name: "x".repeat(201) }).success).toBe(false);
    expect(createEntityItemSchema.safeParse({ name: " \u3000 " }).success).toBe(false);
  });
});
