import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DistributedApplication } from "@outbox/apphost";
import { startTestApp, stopTestApp } from "@outbox/apphost/testing";
import { createPool as createReceiverPool } from "../receiver-service/src/data/db.js";
import { createPool as createSenderPool } from "../sender-service/src/data/db.js";
import { postEntity, type CreatedEntity } from "./support/system.js";

// The services' parsers against hostile shapes, on every operation their OpenAPI documents list
// (admin routes with the token, so that the input is what gets refused): deeply nested and
// oversized JSON bodies, query strings and path parameters. Each answer is a 4xx problem within a
// bound, never a 500. Also: a message's journey is operator data, and the services' pools carry a
// statement_timeout. service-defaults/src/parser-bounds.test.ts pins the same shapes at the source.

type Service = "sender" | "receiver";
const SERVICES: Service[] = ["sender", "receiver"];
/** Generous for a loaded two-core machine; the old recursive walk took 0.2 s of CPU, then a 500. */
const BOUND_MS = 3_000;
const UUID = "00000000-0000-4000-8000-000000000000";

interface Parameter {
  name: string;
  in: "path" | "query" | "header";
  schema?: { type?: string; format?: string };
}
interface Operation {
  service: Service;
  method: string;
  path: string;
  parameters: Parameter[];
  hasBody: boolean;
}

let app: DistributedApplication;
const operations: Operation[] = [];

beforeAll(async () => {
  app = await startTestApp();
  for (const service of SERVICES) {
    const document = (await (await fetch(`${app.getEndpoint(service)}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { parameters?: Parameter[]; requestBody?: unknown }>>;
    };
    for (const [path, item] of Object.entries(document.paths))
      for (const [method, operation] of Object.entries(item))
        operations.push({
          service,
          method: method.toUpperCase(),
          path,
          parameters: operation.parameters ?? [],
          hasBody: operation.requestBody !== undefined,
        });
  }
});

afterAll(async () => {
  await stopTestApp(app);
});

function token(service: Service): string {
  const value = app.environmentOf(service)?.ADMIN_TOKEN;
  if (!value) throw new Error(`no ADMIN_TOKEN injected into ${service}`);
  return value;
}

/** A plausible value for a path parameter, so that only the hostile part is wrong. */
function plausible(parameter: Parameter): string {
  if (parameter.schema?.type === "integer") return "1";
  if (parameter.schema?.format === "uuid") return UUID;
  return UUID;
}

function pathOf(operation: Operation, override?: (p: Parameter) => string): string {
  return operation.path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const parameter = operation.parameters.find((p) => p.in === "path" && p.name === name) ?? {
      name,
      in: "path",
    };
    return encodeURIComponent(override ? override(parameter) : plausible(parameter));
  });
}

interface Probe {
  what: string;
  operation: Operation;
  url: string;
  body?: string;
}

/** The hostile requests for one operation. */
function probes(operation: Operation): Probe[] {
  const base = app.getEndpoint(operation.service);
  const path = pathOf(operation);
  const list: Probe[] = [];
  if (operation.hasBody) {
    list.push({
      what: "64 KB of nested arrays",
      operation,
      url: base + path,
      body: "[".repeat(32_000) + "]".repeat(32_000),
    });
    list.push({
      what: "nested objects",
      operation,
      url: base + path,
      body: '{"name":'.repeat(6_000) + '"x"' + "}".repeat(6_000),
    });
    list.push({
      what: "a field nested deep",
      operation,
      url: base + path,
      body: `{"name":"x","description":${"[".repeat(20_000)}${"]".repeat(20_000)}}`,
    });
    list.push({
      what: "a body over the limit",
      operation,
      url: base + path,
      body: JSON.stringify({ name: "x".repeat(80_000) }),
    });
    list.push({
      what: "5,000 uncarriable strings",
      operation,
      url: base + path,
      body: JSON.stringify(Array(5_000).fill("\u0000")),
    });
  }
  for (const parameter of operation.parameters.filter((p) => p.in === "query")) {
    const q = (value: string) => `${base}${path}?${encodeURIComponent(parameter.name)}=${value}`;
    list.push({ what: `?${parameter.name} huge number`, operation, url: q("9".repeat(400)) });
    list.push({ what: `?${parameter.name} 10,000 characters`, operation, url: q("x".repeat(10_000)) });
    list.push({
      what: `?${parameter.name} nested brackets`,
      operation,
      url: q(encodeURIComponent("[".repeat(2_000))),
    });
    list.push({
      what: `?${parameter.name} repeated 1,000 times`,
      operation,
      url: `${base}${path}?${Array(1_000)
        .fill(`${encodeURIComponent(parameter.name)}=1`)
        .join("&")}`,
    });
  }
  for (const parameter of operation.parameters.filter((p) => p.in === "path")) {
    list.push({
      what: `{${parameter.name}} 5,000 characters`,
      operation,
      url: base + pathOf(operation, (p) => (p === parameter ? "9".repeat(5_000) : plausible(p))),
    });
    list.push({
      what: `{${parameter.name}} NUL`,
      operation,
      url: base + pathOf(operation, (p) => (p === parameter ? "a\u0000b" : plausible(p))),
    });
  }
  if (operation.method === "GET" && operation.parameters.some((p) => p.in === "query" && p.name === "page"))
    list.push({
      what: "a page deeper than the list serves",
      operation,
      url: `${base}${path}?page=1000000&pageSize=200`,
    });
  return list;
}

async function send(
  probe: Probe,
): Promise<{ status: number; type: string | null; ms: number; text: string }> {
  const began = performance.now();
  const response = await fetch(probe.url, {
    method: probe.operation.method,
    headers: {
      authorization: `Bearer ${token(probe.operation.service)}`,
      ...(probe.body === undefined ? {} : { "content-type": "application/json" }),
      // Routes that need these would refuse before reading the body otherwise.
      "if-match": '"1"',
      "idempotency-key": "parser-fuzz",
    },
    ...(probe.body === undefined ? {} : { body: probe.body }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  return {
    status: response.status,
    type: response.headers.get("content-type"),
    ms: performance.now() - began,
    text,
  };
}

describe("the services' parsers under hostile input", () => {
  it("every operation answers each hostile request with a 4xx problem, in bounded time", async () => {
    // Precondition: both documents were read and the body-taking routes are among them.
    expect(operations.filter((o) => o.service === "sender").length).toBeGreaterThan(10);
    expect(operations.filter((o) => o.service === "receiver").length).toBeGreaterThan(5);
    expect(operations.filter((o) => o.hasBody).map((o) => `${o.method} ${o.path}`)).toEqual(
      expect.arrayContaining(["POST /api/EntityItems", "PUT /api/EntityItems/{id}"]),
    );
    const bad: string[] = [];
    let sent = 0;
    for (const operation of operations)
      for (const probe of probes(operation)) {
        const answer = await send(probe);
        sent++;
        const label = `${operation.service} ${operation.method} ${operation.path} — ${probe.what}`;
        if (answer.status < 400 || answer.status >= 500)
          bad.push(`${label}: ${answer.status} ${answer.text.slice(0, 200)}`);
        else if (!/^application\/problem\+json/.test(answer.type ?? "")) bad.push(`${label}: ${answer.type}`);
        else if (answer.ms > BOUND_MS) bad.push(`${label}: took ${Math.round(answer.ms)} ms`);
      }
    expect(sent).toBeGreaterThan(100);
    expect(bad).toEqual([]);
    // Still serving after all of it.
    expect((await fetch(`${app.getEndpoint("sender")}/health`)).status).toBe(200);
    expect((await fetch(`${app.getEndpoint("receiver")}/health`)).status).toBe(200);
  });
});

describe("a message's journey on the receiver", () => {
  it("is operator data: 401 without the admin token, the journey with it", async () => {
    const receiver = app.getEndpoint("receiver");
    const created = await postEntity(app.getEndpoint("sender"), { name: "journey auth" });
    expect(created.status).toBe(201);
    // The message id is public in the received item; what happened to it is not.
    let messageId: string | undefined;
    const deadline = Date.now() + 60_000;
    while (messageId === undefined && Date.now() < deadline) {
      const item = await fetch(`${receiver}/api/ReceivedItems/${(created.body as CreatedEntity).id}`);
      if (item.ok) messageId = ((await item.json()) as { messageId: string }).messageId;
      else await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(messageId, "the receiver applied the message").toBeDefined();
    const url = `${receiver}/api/messages/${encodeURIComponent(messageId ?? "")}`;
    for (const headers of [{}, { authorization: "Bearer wrong" }] as Array<Record<string, string>>) {
      const refused = await fetch(url, { headers });
      expect(refused.status).toBe(401);
      expect(refused.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      expect(await refused.text()).not.toMatch(/groups|appliedAt|failures/);
    }
    expect((await fetch(`${receiver}/api/consumer-groups`)).status).toBe(401);
    const served = await fetch(url, { headers: { authorization: `Bearer ${token("receiver")}` } });
    expect(served.status).toBe(200);
    const journey = (await served.json()) as {
      messageId: string;
      groups: Array<{ group: string; appliedAt: string | null }>;
    };
    expect(journey.messageId).toBe(messageId);
    expect(journey.groups.find((g) => g.group === "receiver")?.appliedAt).toBeTruthy();
  });
});

describe("the services' PostgreSQL pools", () => {
  it("cancel a statement that runs past PG_STATEMENT_TIMEOUT_MS", async () => {
    const pools = [
      createSenderPool({
        url: app.getConnectionString("senderdb"),
        max: 1,
        applicationName: "statement-timeout-test",
        statementTimeoutMs: 300,
        onError: () => undefined,
      }),
      createReceiverPool({
        url: app.getConnectionString("receiverdb"),
        max: 1,
        statementTimeoutMs: 300,
        onIdleError: () => undefined,
      }),
    ];
    try {
      for (const pool of pools) {
        // Precondition: a short statement runs.
        expect((await pool.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
        const began = performance.now();
        const error = await pool.query("SELECT pg_sleep(5)").catch((e: unknown) => e);
        expect((error as { code?: string }).code).toBe("57014");
        expect(performance.now() - began).toBeLessThan(4_000);
      }
    } finally {
      await Promise.all(pools.map((pool) => pool.end()));
    }
  });
});
