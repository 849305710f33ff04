/**
 * OTLP/HTTP JSON bodies (what `@opentelemetry/exporter-*-otlp-http` send) flattened into the records
 * the dashboard stores. The JSON mapping of OTLP encodes 64-bit integers as strings and ids as hex;
 * anything malformed is skipped record by record rather than failing the whole batch. Strings,
 * attribute counts, events and nesting are capped (OTLP_FIELD_LIMITS), so one record's size in
 * memory is bounded whatever the exporter sends.
 */

/** Per-record caps; values beyond them are truncated (strings) or dropped (attributes, events). */
export const OTLP_FIELD_LIMITS = {
  /** Characters of an attribute value, a span or metric name, a status message. */
  attributeValue: 4096,
  /** Characters of a log record's body. */
  logBody: 16 * 1024,
  /** Characters of an attribute key. */
  attributeKey: 256,
  /** Attributes per span, event, log record or data point (OpenTelemetry's own default). */
  attributes: 128,
  events: 128,
  /** Nesting of arrayValue/kvlistValue values. */
  depth: 8,
} as const;

const TRUNCATED = "…[truncated]";

/** Cuts a string to `max` characters, saying so. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, max) + TRUNCATED;
}

function capped(value: AttributeValue | undefined): AttributeValue | undefined {
  return typeof value === "string" ? truncate(value, OTLP_FIELD_LIMITS.attributeValue) : value;
}

export type AttributeValue = string | number | boolean;
export type Attributes = Record<string, AttributeValue>;

export interface SpanRecord {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: SpanKindName;
  service: string;
  /** Epoch milliseconds (fractional). */
  startMs: number;
  endMs: number;
  durationMs: number;
  error: boolean;
  statusMessage?: string;
  attributes: Attributes;
  events: Array<{ name: string; timeMs: number; attributes: Attributes }>;
  scope?: string;
}

export interface LogRecord {
  service: string;
  timeMs: number;
  severityNumber: number;
  severity: string;
  body: string;
  traceId?: string;
  spanId?: string;
  attributes: Attributes;
}

export interface MetricPoint {
  service: string;
  name: string;
  unit: string;
  type: "gauge" | "sum" | "histogram";
  timeMs: number;
  /** Gauge/sum value; for histograms the mean of the interval (sum / count). */
  value: number;
  count?: number;
  attributes: Attributes;
}

export type SpanKindName = "internal" | "server" | "client" | "producer" | "consumer" | "unspecified";

const SPAN_KINDS: SpanKindName[] = ["unspecified", "internal", "server", "client", "producer", "consumer"];
const STATUS_ERROR = 2;

export class OtlpParseError extends Error {}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function array(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function nanosToMs(value: unknown): number {
  if (typeof value === "number") return value / 1e6;
  if (typeof value === "string" && /^\d+$/.test(value)) {
    // Split so the millisecond part keeps its precision (a plain Number() of 19 digits loses µs).
    const digits = value.padStart(7, "0");
    return Number(digits.slice(0, -6)) + Number(digits.slice(-6)) / 1e6;
  }
  return 0;
}

/** Ids arrive as hex in the JSON mapping; some encoders use base64 — accept both. */
function hexId(value: unknown, bytes: number): string | undefined {
  if (typeof value !== "string" || value === "") return undefined;
  if (new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`).test(value)) return value.toLowerCase();
  const decoded = Buffer.from(value, "base64");
  if (decoded.length === bytes) return decoded.toString("hex");
  return undefined;
}

function anyValue(value: unknown, depth = 0): AttributeValue | undefined {
  if (!isObject(value)) return undefined;
  if (depth > OTLP_FIELD_LIMITS.depth) return "[nested too deep]";
  if (typeof value.stringValue === "string") return value.stringValue;
  if (typeof value.boolValue === "boolean") return value.boolValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (typeof value.doubleValue === "number") return value.doubleValue;
  if (isObject(value.arrayValue))
    return JSON.stringify(
      array(value.arrayValue.values)
        .slice(0, OTLP_FIELD_LIMITS.attributes)
        .map((v) => anyValue(v, depth + 1) ?? null),
    );
  if (isObject(value.kvlistValue)) return JSON.stringify(attributes(value.kvlistValue.values, depth + 1));
  if (typeof value.bytesValue === "string") return value.bytesValue;
  return undefined;
}

export function attributes(list: unknown, depth = 0): Attributes {
  const result: Attributes = {};
  let count = 0;
  for (const item of array(list)) {
    if (count >= OTLP_FIELD_LIMITS.attributes) break;
    if (!isObject(item) || typeof item.key !== "string") continue;
    const value = capped(anyValue(item.value, depth));
    if (value === undefined) continue;
    // Own property, whatever the key ("__proto__" included).
    Object.defineProperty(result, truncate(item.key, OTLP_FIELD_LIMITS.attributeKey), {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
    count++;
  }
  return result;
}

function serviceOf(resource: unknown): string {
  const name = isObject(resource) ? attributes(resource.attributes)["service.name"] : undefined;
  return typeof name === "string" && name !== "" ? truncate(name, 128) : "unknown_service";
}

function requireObject(body: unknown, field: string): Json {
  if (!isObject(body) || !Array.isArray(body[field]))
    throw new OtlpParseError(`expected an object with "${field}"`);
  return body;
}

export function parseTraces(body: unknown): SpanRecord[] {
  const spans: SpanRecord[] = [];
  for (const rs of array(requireObject(body, "resourceSpans").resourceSpans)) {
    if (!isObject(rs)) continue;
    const service = serviceOf(rs.resource);
    for (const ss of array(rs.scopeSpans)) {
      if (!isObject(ss)) continue;
      const scope = isObject(ss.scope) && typeof ss.scope.name === "string" ? ss.scope.name : undefined;
      for (const span of array(ss.spans)) {
        if (!isObject(span)) continue;
        const traceId = hexId(span.traceId, 16);
        const spanId = hexId(span.spanId, 8);
        if (!traceId || !spanId) continue;
        const startMs = nanosToMs(span.startTimeUnixNano);
        const endMs = Math.max(startMs, nanosToMs(span.endTimeUnixNano));
        const status = isObject(span.status) ? span.status : {};
        const record: SpanRecord = {
          traceId,
          spanId,
          name: typeof span.name === "string" ? truncate(span.name, OTLP_FIELD_LIMITS.attributeValue) : "",
          kind: SPAN_KINDS[typeof span.kind === "number" ? span.kind : 0] ?? "unspecified",
          service,
          startMs,
          endMs,
          durationMs: endMs - startMs,
          error: status.code === STATUS_ERROR || status.code === "STATUS_CODE_ERROR",
          attributes: attributes(span.attributes),
          events: array(span.events)
            .slice(0, OTLP_FIELD_LIMITS.events)
            .flatMap((e) =>
              isObject(e)
                ? [
                    {
                      name:
                        typeof e.name === "string" ? truncate(e.name, OTLP_FIELD_LIMITS.attributeValue) : "",
                      timeMs: nanosToMs(e.timeUnixNano),
                      attributes: attributes(e.attributes),
                    },
                  ]
                : [],
            ),
        };
        const parent = hexId(span.parentSpanId, 8);
        if (parent) record.parentSpanId = parent;
        if (typeof status.message === "string" && status.message !== "")
          record.statusMessage = truncate(status.message, OTLP_FIELD_LIMITS.attributeValue);
        if (scope) record.scope = scope;
        spans.push(record);
      }
    }
  }
  return spans;
}

const SEVERITY_NAMES: Array<[number, string]> = [
  [21, "fatal"],
  [17, "error"],
  [13, "warn"],
  [9, "info"],
  [5, "debug"],
  [1, "trace"],
];

export function severityName(severityNumber: number, text?: string): string {
  if (text) return text.toLowerCase();
  return SEVERITY_NAMES.find(([n]) => severityNumber >= n)?.[1] ?? "info";
}

export function parseLogs(body: unknown): LogRecord[] {
  const records: LogRecord[] = [];
  for (const rl of array(requireObject(body, "resourceLogs").resourceLogs)) {
    if (!isObject(rl)) continue;
    const service = serviceOf(rl.resource);
    for (const sl of array(rl.scopeLogs)) {
      if (!isObject(sl)) continue;
      for (const log of array(sl.logRecords)) {
        if (!isObject(log)) continue;
        const severityNumber = typeof log.severityNumber === "number" ? log.severityNumber : 0;
        const severityText = typeof log.severityText === "string" ? log.severityText.slice(0, 32) : undefined;
        const body = anyValue(log.body);
        const record: LogRecord = {
          service,
          timeMs: nanosToMs(log.timeUnixNano) || nanosToMs(log.observedTimeUnixNano) || Date.now(),
          severityNumber,
          severity: severityName(severityNumber, severityText),
          body: body === undefined ? "" : truncate(String(body), OTLP_FIELD_LIMITS.logBody),
          attributes: attributes(log.attributes),
        };
        const traceId = hexId(log.traceId, 16);
        const spanId = hexId(log.spanId, 8);
        if (traceId && !/^0+$/.test(traceId)) record.traceId = traceId;
        if (spanId && !/^0+$/.test(spanId)) record.spanId = spanId;
        records.push(record);
      }
    }
  }
  return records;
}

function numberOf(point: Json): number | undefined {
  if (typeof point.asDouble === "number") return point.asDouble;
  if (point.asInt !== undefined) return Number(point.asInt);
  return undefined;
}

export function parseMetrics(body: unknown): MetricPoint[] {
  const points: MetricPoint[] = [];
  for (const rm of array(requireObject(body, "resourceMetrics").resourceMetrics)) {
    if (!isObject(rm)) continue;
    const service = serviceOf(rm.resource);
    for (const sm of array(rm.scopeMetrics)) {
      if (!isObject(sm)) continue;
      for (const metric of array(sm.metrics)) {
        if (!isObject(metric) || typeof metric.name !== "string") continue;
        const base = {
          service,
          name: truncate(metric.name, 256),
          unit: typeof metric.unit === "string" ? metric.unit.slice(0, 64) : "",
        };
        for (const type of ["gauge", "sum", "histogram"] as const) {
          const data = metric[type];
          if (!isObject(data)) continue;
          for (const point of array(data.dataPoints)) {
            if (!isObject(point)) continue;
            const timeMs = nanosToMs(point.timeUnixNano);
            const attrs = attributes(point.attributes);
            if (type === "histogram") {
              const count = Number(point.count ?? 0);
              const sum = typeof point.sum === "number" ? point.sum : 0;
              points.push({
                ...base,
                type,
                timeMs,
                value: count > 0 ? sum / count : 0,
                count,
                attributes: attrs,
              });
            } else {
              const value = numberOf(point);
              if (value !== undefined) points.push({ ...base, type, timeMs, value, attributes: attrs });
            }
          }
        }
      }
    }
  }
  return points;
}
