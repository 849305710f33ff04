import { afterEach, describe, expect, it } from "vitest";
import { fetchLocalhost } from "./localhost-fetch.js";
import { DashboardServer } from "./dashboard-server.js";
import type { LogRecord, MetricPoint, SpanRecord } from "./otlp-json.js";

const secrets = { loginToken: "t".repeat(48), otlpApiKey: "k".repeat(48), toolToken: "b".repeat(48) };
const bearer = { authorization: `Bearer ${secrets.toolToken}` };
const servers: DashboardServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

async function dashboard(): Promise<DashboardServer> {
  const server = new DashboardServer({ port: 0, secrets });
  await server.listen();
  servers.push(server);
  return server;
}

const span: SpanRecord = {
  traceId: "0af7651916cd43dd8448eb211c80319c",
  spanId: "b7ad6b7169203331",
  parentSpanId: "00f067aa0ba902b7",
  name: "process entity-items.receiver",
  kind: "consumer",
  service: "receiver",
  startMs: 1_700_000_000_123.5,
  endMs: 1_700_000_000_130.25,
  durationMs: 6.75,
  error: true,
  statusMessage: "boom",
  attributes: { "messaging.message.id": "m-1", attempt: 2, redelivered: true, ratio: 0.5 },
  events: [{ name: "exception", timeMs: 1_700_000_000_129, attributes: { "exception.message": "boom" } }],
  scope: "apphost-export",
};
const log: LogRecord = {
  service: "sender",
  timeMs: 1_700_000_000_200,
  severityNumber: 17,
  severity: "error",
  body: "publish failed",
  traceId: span.traceId,
  spanId: span.spanId,
  attributes: { component: "outbox-relay" },
};
const metrics: MetricPoint[] = [
  {
    service: "sender",
    name: "outbox.messages.pending",
    unit: "{message}",
    type: "gauge",
    timeMs: 1_700_000_000_000,
    value: 3,
    attributes: {},
  },
  {
    service: "sender",
    name: "outbox.messages.published",
    unit: "{message}",
    type: "sum",
    timeMs: 1_700_000_000_000,
    value: 42,
    attributes: { destination: "entity-items" },
  },
  {
    service: "sender",
    name: "outbox.publish.latency",
    unit: "ms",
    type: "histogram",
    timeMs: 1_700_000_000_000,
    value: 2.5,
    count: 4,
    attributes: {},
  },
];

describe("telemetry export and import (OTLP JSON)", () => {
  it("round-trips spans, logs and metrics through one exported file", async () => {
    const source = await dashboard();
    source.store.add("spans", [span]);
    source.store.add("logs", [log]);
    source.store.add("metrics", metrics);
    const response = await fetch(`${source.url}/api/telemetry/export`, { headers: bearer });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-disposition")).toMatch(
      /attachment; filename="apphost-telemetry-\d+\.otlp\.json"/,
    );
    const file = await response.text();

    const target = await dashboard();
    const imported = await fetch(`${target.url}/api/telemetry/import`, {
      method: "POST",
      headers: bearer,
      body: file,
    });
    expect(await imported.json()).toEqual({ spans: 1, logs: 1, metrics: 3 });
    expect(target.store.records("spans")).toEqual([span]);
    expect(target.store.records("logs")).toEqual([log]);
    expect(target.store.records("metrics")).toEqual(
      metrics.map((m) => (m.type === "histogram" ? m : { ...m })),
    );
  });

  it("refuses a file that is not exported telemetry, and needs the dashboard's authorisation", async () => {
    const target = await dashboard();
    const bad = await fetch(`${target.url}/api/telemetry/import`, {
      method: "POST",
      headers: bearer,
      body: '{"x":1}',
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toContain("resourceSpans");
    expect((await fetchLocalhost(`${target.browserUrl}/api/telemetry/export`)).status).toBe(401);
    expect(target.store.records("spans")).toEqual([]);
  });
});
