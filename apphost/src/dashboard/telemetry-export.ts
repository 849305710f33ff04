import type { Attributes, AttributeValue, LogRecord, MetricPoint, SpanRecord } from "./otlp-json.js";
import { parseLogs, parseMetrics, parseTraces } from "./otlp-json.js";
import type { TelemetryStore } from "./telemetry-store.js";

/**
 * Telemetry as one OTLP/JSON file, like Aspire's export: `resourceSpans`, `resourceLogs` and
 * `resourceMetrics` side by side, each exactly what an OTLP/HTTP JSON request of that signal holds,
 * so the file can also be replayed to any OTLP collector signal by signal. Histograms are kept as
 * their count and sum (the dashboard keeps no buckets).
 */
export interface OtlpExport {
  resourceSpans: unknown[];
  resourceLogs: unknown[];
  resourceMetrics: unknown[];
}

const SPAN_KIND_NUMBERS: Record<string, number> = {
  unspecified: 0,
  internal: 1,
  server: 2,
  client: 3,
  producer: 4,
  consumer: 5,
};

function nanos(ms: number): string {
  return (BigInt(Math.round(ms * 1000)) * 1000n).toString();
}

function anyValue(value: AttributeValue): Record<string, unknown> {
  if (typeof value === "string") return { stringValue: value };
  if (typeof value === "boolean") return { boolValue: value };
  if (typeof value === "number")
    return Number.isInteger(value) ? { intValue: String(value) } : { doubleValue: value };
  return { stringValue: JSON.stringify(value) };
}

function keyValues(attributes: Attributes): Array<{ key: string; value: Record<string, unknown> }> {
  return Object.entries(attributes).map(([key, value]) => ({ key, value: anyValue(value) }));
}

function byService<T extends { service: string }>(records: T[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const r of records) groups.set(r.service, [...(groups.get(r.service) ?? []), r]);
  return groups;
}

const resource = (service: string) => ({ attributes: keyValues({ "service.name": service }) });

export function exportTelemetry(store: TelemetryStore): OtlpExport {
  const spans = byService(store.records("spans"));
  const logs = byService(store.records("logs"));
  const metrics = byService(store.records("metrics"));
  return {
    resourceSpans: [...spans].map(([service, list]) => ({
      resource: resource(service),
      scopeSpans: [{ scope: { name: "apphost-export" }, spans: list.map(span) }],
    })),
    resourceLogs: [...logs].map(([service, list]) => ({
      resource: resource(service),
      scopeLogs: [{ scope: { name: "apphost-export" }, logRecords: list.map(log) }],
    })),
    resourceMetrics: [...metrics].map(([service, list]) => ({
      resource: resource(service),
      scopeMetrics: [{ scope: { name: "apphost-export" }, metrics: list.map(metric) }],
    })),
  };
}

function span(s: SpanRecord): Record<string, unknown> {
  return {
    traceId: s.traceId,
    spanId: s.spanId,
    ...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}),
    name: s.name,
    kind: SPAN_KIND_NUMBERS[s.kind] ?? 0,
    startTimeUnixNano: nanos(s.startMs),
    endTimeUnixNano: nanos(s.endMs),
    attributes: keyValues(s.attributes),
    events: s.events.map((e) => ({
      name: e.name,
      timeUnixNano: nanos(e.timeMs),
      attributes: keyValues(e.attributes),
    })),
    status: s.error ? { code: 2, ...(s.statusMessage ? { message: s.statusMessage } : {}) } : { code: 0 },
  };
}

function log(l: LogRecord): Record<string, unknown> {
  return {
    timeUnixNano: nanos(l.timeMs),
    severityNumber: l.severityNumber,
    severityText: l.severity.toUpperCase(),
    body: { stringValue: l.body },
    attributes: keyValues(l.attributes),
    ...(l.traceId ? { traceId: l.traceId } : {}),
    ...(l.spanId ? { spanId: l.spanId } : {}),
  };
}

function metric(p: MetricPoint): Record<string, unknown> {
  const point = { timeUnixNano: nanos(p.timeMs), attributes: keyValues(p.attributes) };
  if (p.type === "histogram")
    return {
      name: p.name,
      unit: p.unit,
      histogram: {
        aggregationTemporality: 2,
        dataPoints: [{ ...point, count: String(p.count ?? 0), sum: p.value * (p.count ?? 0) }],
      },
    };
  const dataPoints = [{ ...point, asDouble: p.value }];
  return p.type === "sum"
    ? { name: p.name, unit: p.unit, sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints } }
    : { name: p.name, unit: p.unit, gauge: { dataPoints } };
}

/** Adds an exported file's records to the store (records already present are kept, not merged). */
export function importTelemetry(
  store: TelemetryStore,
  body: unknown,
): { spans: number; logs: number; metrics: number } {
  const has = (key: string) =>
    typeof body === "object" && body !== null && Array.isArray((body as Record<string, unknown>)[key]);
  const spans = has("resourceSpans") ? parseTraces(body) : [];
  const logs = has("resourceLogs") ? parseLogs(body) : [];
  const metrics = has("resourceMetrics") ? parseMetrics(body) : [];
  if (!has("resourceSpans") && !has("resourceLogs") && !has("resourceMetrics"))
    throw new Error('expected OTLP JSON with "resourceSpans", "resourceLogs" or "resourceMetrics"');
  store.add("spans", spans);
  store.add("logs", logs);
  store.add("metrics", metrics);
  return { spans: spans.length, logs: logs.length, metrics: metrics.length };
}
