import fs from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { DashboardServer, type DashboardOptions } from "./dashboard-server.js";
import { OTLP_FIELD_LIMITS, OtlpParseError, parseLogs, parseMetrics, parseTraces } from "./otlp-json.js";
import { TelemetryStore } from "./telemetry-store.js";

const KEY = "k".repeat(48);
let dashboard: DashboardServer | undefined;
let dir: string | undefined;

afterEach(async () => {
  await dashboard?.close();
  dashboard = undefined;
  if (dir) await fs.rm(dir, { recursive: true, force: true });
  dir = undefined;
});

async function start(options: Partial<DashboardOptions> = {}): Promise<DashboardServer> {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "otlp-limits-"));
  dashboard = new DashboardServer({
    port: 0,
    secrets: { loginToken: "l".repeat(48), otlpApiKey: KEY, toolToken: "b".repeat(48) },
    telemetryDir: path.join(dir, "telemetry"),
    ...options,
  });
  await dashboard.listen();
  return dashboard;
}

function spans(service: string, attributes: unknown[] = [], count = 1): unknown {
  return {
    resourceSpans: [
      {
        resource: { attributes: [{ key: "service.name", value: { stringValue: service } }] },
        scopeSpans: [
          {
            spans: Array.from({ length: count }, (_, i) => ({
              traceId: "0af7651916cd43dd8448eb211c80319c",
              spanId: (i + 1).toString(16).padStart(16, "0"),
              name: "op",
              startTimeUnixNano: "1700000000000000000",
              endTimeUnixNano: "1700000000005000000",
              attributes,
            })),
          },
        ],
      },
    ],
  };
}

function post(
  server: DashboardServer,
  body: Buffer | string,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${server.url}/v1/traces`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-otlp-api-key": KEY, ...headers },
    body,
  });
}

describe("OTLP intake limits", () => {
  it("refuses a gzip bomb with 413 once the decompressed size passes the cap", async () => {
    const server = await start({ otlpLimits: { maxDecompressedBytes: 1024 * 1024 } });
    // 64 MiB of spaces compress to about 64 KiB.
    const bomb = zlib.gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20));
    expect(bomb.length).toBeLessThan(1024 * 1024);
    const response = await post(server, bomb, { "content-encoding": "gzip" });
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: string }).error).toMatch(/decompressed/);
    expect(server.intake.bytesInFlight).toBe(0);
    // A normal gzipped batch still goes through.
    const ok = await post(server, zlib.gzipSync(JSON.stringify(spans("sender"))), {
      "content-encoding": "gzip",
    });
    expect(ok.status).toBe(200);
    expect(server.store.count("spans")).toBe(1);
  });

  it("refuses an oversized body (declared or streamed) with 413, bad gzip with 400, other encodings with 415", async () => {
    const server = await start({ otlpLimits: { maxBodyBytes: 4096 } });
    expect((await post(server, "x".repeat(5000))).status).toBe(413);
    const streamed = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        `${server.url}/v1/traces`,
        {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "x-otlp-api-key": KEY,
            "transfer-encoding": "chunked",
          },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on("error", reject);
      for (let i = 0; i < 10; i++) req.write("y".repeat(1000));
      req.end();
    }).catch(() => 413);
    expect(streamed).toBe(413);
    expect((await post(server, "not gzip", { "content-encoding": "gzip" })).status).toBe(400);
    expect((await post(server, "{}", { "content-encoding": "br" })).status).toBe(415);
    expect(server.intake.bytesInFlight).toBe(0);
  });

  it("answers 429 with Retry-After while the bytes in flight are over budget, and recovers", async () => {
    const server = await start({ otlpLimits: { maxInFlightBytes: 3000, maxBodyBytes: 2500 } });
    const body = JSON.stringify(spans("sender"));
    // A slow client holds 2000 bytes of budget: it announced them and sends nothing yet.
    const slow = http.request(`${server.url}/v1/traces`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-otlp-api-key": KEY, "content-length": "2000" },
    });
    const slowDone = new Promise<number>((resolve, reject) => {
      slow.on("response", (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      slow.on("error", reject);
    });
    slow.flushHeaders();
    await waitFor(() => server.intake.bytesInFlight === 2000);
    const busy = await post(server, body.padEnd(2000, " "));
    expect(busy.status).toBe(429);
    expect(busy.headers.get("retry-after")).toBe("1");
    slow.end(body.padEnd(2000, " "));
    expect(await slowDone).toBe(200);
    expect(server.intake.bytesInFlight).toBe(0);
    expect((await post(server, body)).status).toBe(200);
  });

  it("caps attribute values, attribute counts, log bodies and nesting", async () => {
    const server = await start();
    const huge = "v".repeat(100_000);
    const many = Array.from({ length: 1000 }, (_, i) => ({ key: `k${i}`, value: { stringValue: "x" } }));
    const attributes = [
      { key: "big", value: { stringValue: huge } },
      { key: "nested", value: "NESTED" },
      { key: "__proto__", value: { stringValue: "polluted?" } },
      ...many,
    ];
    // 100 000 levels of arrays: built as text, JSON.stringify itself would overflow the stack.
    const depth = 100_000;
    const nested = '{"arrayValue":{"values":['.repeat(depth) + '{"stringValue":"deep"}' + "]}}".repeat(depth);
    const body = JSON.stringify(spans("sender", attributes)).replace('"NESTED"', nested);
    expect((await post(server, body)).status).toBe(200);
    const [span] = server.store.trace("0af7651916cd43dd8448eb211c80319c");
    expect(Object.keys(span?.attributes ?? {})).toHaveLength(OTLP_FIELD_LIMITS.attributes);
    expect(String(span?.attributes.big).length).toBeLessThan(OTLP_FIELD_LIMITS.attributeValue + 20);
    expect(String(span?.attributes.nested)).toContain("nested too deep");
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();

    const logs = {
      resourceLogs: [
        {
          resource: { attributes: [{ key: "service.name", value: { stringValue: "sender" } }] },
          scopeLogs: [{ logRecords: [{ timeUnixNano: "1700000000000000000", body: { stringValue: huge } }] }],
        },
      ],
    };
    const response = await fetch(`${server.url}/v1/logs`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-otlp-api-key": KEY },
      body: JSON.stringify(logs),
    });
    expect(response.status).toBe(200);
    const [log] = server.store.logs();
    expect(log?.body.length).toBeLessThan(OTLP_FIELD_LIMITS.logBody + 20);
    expect(log?.body.endsWith("…[truncated]")).toBe(true);
  });

  it("keeps at most maxServices services; further ones get OTLP partial success", async () => {
    const server = await start({ telemetryLimits: { maxServices: 2 } });
    expect(await (await post(server, JSON.stringify(spans("a")))).json()).toEqual({});
    expect(await (await post(server, JSON.stringify(spans("b")))).json()).toEqual({});
    const third = await post(server, JSON.stringify(spans("c", [], 3)));
    expect(third.status).toBe(200);
    expect(await third.json()).toMatchObject({ partialSuccess: { rejectedSpans: "3" } });
    expect(server.store.services()).toEqual(["a", "b"]);
    // Known services keep flowing.
    expect((await post(server, JSON.stringify(spans("a")))).status).toBe(200);
  });
});

describe("telemetry store memory budget", () => {
  it("evicts the oldest records so the bytes in memory stay under maxBytes", () => {
    const store = new TelemetryStore({ maxBytes: 200_000 });
    const log = (i: number) => ({
      service: `s${i % 3}`,
      timeMs: i,
      severityNumber: 9,
      severity: "info",
      body: `record ${i} ${"x".repeat(500)}`,
      attributes: {},
    });
    for (let i = 0; i < 5000; i++) store.add("logs", [log(i)]);
    expect(store.memoryBytes).toBeLessThanOrEqual(200_000);
    expect(store.memoryBytes).toBeGreaterThan(100_000);
    const kept = store.logs({ limit: 10_000 });
    expect(kept.some((l) => l.timeMs === 4999)).toBe(true);
    expect(kept.some((l) => l.timeMs === 0)).toBe(false);
  });
});

describe("OTLP parsing never throws on junk", () => {
  it("returns records or an OtlpParseError for any JSON value", () => {
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const leaves: unknown[] = [null, 0, -1, 1e308, "", "x", "1700000000000000000", true, [], {}];
    const keys = [
      "resourceSpans",
      "resourceLogs",
      "resourceMetrics",
      "resource",
      "attributes",
      "scopeSpans",
      "scopeLogs",
      "scopeMetrics",
      "spans",
      "logRecords",
      "metrics",
      "gauge",
      "sum",
      "histogram",
      "dataPoints",
      "key",
      "value",
      "stringValue",
      "intValue",
      "arrayValue",
      "kvlistValue",
      "values",
      "traceId",
      "spanId",
      "events",
      "status",
      "body",
      "count",
      "asInt",
      "name",
    ];
    const junk = (depth: number): unknown => {
      const roll = next();
      if (depth > 6 || roll < 0.3) return leaves[Math.floor(next() * leaves.length)];
      if (roll < 0.5) return Array.from({ length: Math.floor(next() * 4) }, () => junk(depth + 1));
      const object: Record<string, unknown> = {};
      for (let i = 0; i < 1 + Math.floor(next() * 4); i++)
        object[keys[Math.floor(next() * keys.length)] ?? "x"] = junk(depth + 1);
      return object;
    };
    for (let i = 0; i < 3000; i++) {
      const body = junk(0);
      for (const parse of [parseTraces, parseLogs, parseMetrics]) {
        try {
          parse(body);
        } catch (error) {
          expect(error).toBeInstanceOf(OtlpParseError);
        }
      }
    }
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
