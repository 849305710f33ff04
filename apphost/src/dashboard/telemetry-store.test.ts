import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { LogRecord, SpanRecord } from "./otlp-json.js";
import { TelemetryStore } from "./telemetry-store.js";

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await fs.rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "telemetry-store-"));
  dirs.push(dir);
  return dir;
}

function span(traceId: string, spanId: string, over: Partial<SpanRecord> = {}): SpanRecord {
  return {
    traceId,
    spanId,
    name: `span ${spanId}`,
    kind: "internal",
    service: "sender",
    startMs: 1000,
    endMs: 1010,
    durationMs: 10,
    error: false,
    attributes: {},
    events: [],
    ...over,
  };
}

function log(n: number, over: Partial<LogRecord> = {}): LogRecord {
  return {
    service: "sender",
    timeMs: n,
    severityNumber: 9,
    severity: "info",
    body: `line ${n}`,
    attributes: {},
    ...over,
  };
}

describe("TelemetryStore", () => {
  it("summarises traces across services and filters by service, error and duration", () => {
    const store = new TelemetryStore();
    store.add("spans", [
      span("a".repeat(32), "0000000000000001", {
        name: "POST /api/EntityItems",
        kind: "server",
        startMs: 0,
        endMs: 50,
        durationMs: 50,
      }),
      span("a".repeat(32), "0000000000000002", {
        parentSpanId: "0000000000000001",
        kind: "producer",
        startMs: 10,
        endMs: 20,
      }),
      span("a".repeat(32), "0000000000000003", {
        parentSpanId: "0000000000000002",
        service: "receiver",
        kind: "consumer",
        startMs: 30,
        endMs: 80,
        error: true,
      }),
      span("b".repeat(32), "0000000000000004", {
        name: "GET /health",
        startMs: 100,
        endMs: 101,
        durationMs: 1,
      }),
    ]);
    const all = store.traces();
    expect(all.map((t) => t.traceId)).toEqual(["b".repeat(32), "a".repeat(32)]);
    expect(all[1]).toMatchObject({
      name: "POST /api/EntityItems",
      rootService: "sender",
      services: ["receiver", "sender"],
      durationMs: 80,
      spanCount: 3,
      error: true,
    });
    expect(store.traces({ service: "receiver" }).map((t) => t.traceId)).toEqual(["a".repeat(32)]);
    expect(store.traces({ errorOnly: true })).toHaveLength(1);
    expect(store.traces({ minDurationMs: 5 })).toHaveLength(1);
    expect(store.traces({ text: "health" })).toHaveLength(1);
    expect(store.trace("a".repeat(32)).map((s) => s.spanId)).toEqual([
      "0000000000000001",
      "0000000000000002",
      "0000000000000003",
    ]);
  });

  it("keeps at most the configured number of records per service in memory, newest last", () => {
    const store = new TelemetryStore({ maxPerService: { logs: 100 } });
    store.add(
      "logs",
      Array.from({ length: 1000 }, (_, i) => log(i)),
    );
    store.add("logs", [log(5000, { service: "receiver" })]);
    expect(store.logs({ service: "sender", limit: 10_000 }).length).toBeLessThanOrEqual(110);
    expect(store.logs({ service: "sender", limit: 1 })[0]?.body).toBe("line 999");
    expect(store.logs({ service: "receiver" })).toHaveLength(1);
  });

  it("filters logs by severity, text and trace id", () => {
    const store = new TelemetryStore();
    store.add("logs", [
      log(1, { severityNumber: 17, severity: "error", body: "boom" }),
      log(2, { traceId: "c".repeat(32), attributes: { component: "relay" } }),
    ]);
    expect(store.logs({ minSeverity: 13 }).map((l) => l.body)).toEqual(["boom"]);
    expect(store.logs({ text: "relay" }).map((l) => l.timeMs)).toEqual([2]);
    expect(store.logs({ traceId: "c".repeat(32) })).toHaveLength(1);
  });

  it("persists to JSONL segments and reloads them after a restart", async () => {
    const directory = await tempDir();
    const first = new TelemetryStore({ directory });
    await first.load();
    first.add("spans", [span("d".repeat(32), "0000000000000009")]);
    first.add("logs", [log(7)]);
    first.add("metrics", [
      { service: "sender", name: "m", unit: "", type: "gauge", timeMs: 1, value: 3, attributes: {} },
    ]);
    await first.flush();
    // A torn last line (crash mid-append) must not lose the rest.
    await fs.appendFile(path.join(directory, "logs-000000.jsonl"), '{"service":"sen');

    const second = new TelemetryStore({ directory });
    await second.load();
    expect(second.trace("d".repeat(32))).toHaveLength(1);
    expect(second.logs().map((l) => l.body)).toEqual(["line 7"]);
    expect(second.latestMetrics()[0]?.value).toBe(3);
  });

  it("caps disk use: rolls segments by size and deletes the oldest", async () => {
    const directory = await tempDir();
    const store = new TelemetryStore({ directory, segmentBytes: 2000, maxSegments: 2 });
    await store.load();
    for (let i = 0; i < 100; i++) store.add("logs", [log(i, { body: "x".repeat(100) })]);
    await store.flush();
    const files = (await fs.readdir(directory)).filter((f) => f.startsWith("logs-"));
    expect(files.length).toBeLessThanOrEqual(2);
    let bytes = 0;
    for (const file of files) bytes += (await fs.stat(path.join(directory, file))).size;
    expect(bytes).toBeLessThanOrEqual(2 * 2000);
    const reloaded = new TelemetryStore({ directory });
    await reloaded.load();
    const bodies = reloaded.logs({ limit: 1000 });
    expect(bodies[0]?.timeMs).toBe(99);
    expect(bodies.length).toBeLessThan(100);
  });
});
