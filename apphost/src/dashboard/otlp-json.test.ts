import { describe, expect, it } from "vitest";
import { OtlpParseError, parseLogs, parseMetrics, parseTraces } from "./otlp-json.js";

const resource = { attributes: [{ key: "service.name", value: { stringValue: "sender" } }] };

describe("parseTraces", () => {
  it("flattens spans with hex ids, nanosecond strings, kinds, status and attributes", () => {
    const spans = parseTraces({
      resourceSpans: [
        {
          resource,
          scopeSpans: [
            {
              scope: { name: "outbox-relay" },
              spans: [
                {
                  traceId: "0AF7651916CD43DD8448EB211C80319C",
                  spanId: "b7ad6b7169203331",
                  parentSpanId: "00f067aa0ba902b7",
                  name: "send entity-items",
                  kind: 4,
                  startTimeUnixNano: "1700000000123456789",
                  endTimeUnixNano: "1700000000125456789",
                  status: { code: 2, message: "rejected" },
                  attributes: [
                    { key: "messaging.system", value: { stringValue: "activemq" } },
                    { key: "messaging.batch.message_count", value: { intValue: "3" } },
                    { key: "retry", value: { boolValue: true } },
                    { key: "ratio", value: { doubleValue: 0.5 } },
                    { key: "tags", value: { arrayValue: { values: [{ stringValue: "a" }] } } },
                  ],
                  events: [{ name: "duplicate", timeUnixNano: "1700000000124000000", attributes: [] }],
                },
              ],
            },
          ],
        },
      ],
    });
    expect(spans).toHaveLength(1);
    const span = spans[0];
    expect(span).toMatchObject({
      traceId: "0af7651916cd43dd8448eb211c80319c",
      spanId: "b7ad6b7169203331",
      parentSpanId: "00f067aa0ba902b7",
      service: "sender",
      kind: "producer",
      error: true,
      statusMessage: "rejected",
      scope: "outbox-relay",
      attributes: {
        "messaging.system": "activemq",
        "messaging.batch.message_count": 3,
        retry: true,
        ratio: 0.5,
        tags: '["a"]',
      },
    });
    // Sub-millisecond precision survives the conversion from the 19-digit nanosecond string.
    expect((span?.startMs ?? 0) - 1_700_000_000_123).toBeCloseTo(0.456789, 3);
    expect(span?.durationMs).toBeCloseTo(2, 6);
    expect(span?.events[0]?.name).toBe("duplicate");
  });

  it("accepts base64 ids and skips spans without valid ids", () => {
    const traceId = Buffer.from("0af7651916cd43dd8448eb211c80319c", "hex").toString("base64");
    const spanId = Buffer.from("b7ad6b7169203331", "hex").toString("base64");
    const spans = parseTraces({
      resourceSpans: [
        {
          scopeSpans: [
            {
              spans: [
                { traceId, spanId, name: "x" },
                { traceId: "nope", spanId },
              ],
            },
          ],
        },
      ],
    });
    expect(spans.map((s) => [s.traceId, s.spanId, s.service])).toEqual([
      ["0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", "unknown_service"],
    ]);
  });

  it("rejects a body that isn't an OTLP traces request", () => {
    expect(() => parseTraces({ resourceLogs: [] })).toThrow(OtlpParseError);
    expect(() => parseTraces([])).toThrow(OtlpParseError);
  });
});

describe("parseLogs", () => {
  it("keeps body, severity, attributes and the span context (dropping all-zero ids)", () => {
    const logs = parseLogs({
      resourceLogs: [
        {
          resource,
          scopeLogs: [
            {
              logRecords: [
                {
                  timeUnixNano: "1700000000000000000",
                  severityNumber: 13,
                  severityText: "WARN",
                  body: { stringValue: "relay backing off" },
                  attributes: [{ key: "component", value: { stringValue: "outbox-relay" } }],
                  traceId: "0af7651916cd43dd8448eb211c80319c",
                  spanId: "b7ad6b7169203331",
                },
                {
                  severityNumber: 17,
                  body: { stringValue: "no span" },
                  traceId: "0".repeat(32),
                  spanId: "0".repeat(16),
                },
              ],
            },
          ],
        },
      ],
    });
    expect(logs[0]).toMatchObject({
      service: "sender",
      timeMs: 1_700_000_000_000,
      severity: "warn",
      body: "relay backing off",
      traceId: "0af7651916cd43dd8448eb211c80319c",
      spanId: "b7ad6b7169203331",
      attributes: { component: "outbox-relay" },
    });
    expect(logs[1]).toMatchObject({ severity: "error", body: "no span" });
    expect(logs[1]?.traceId).toBeUndefined();
  });
});

describe("parseMetrics", () => {
  it("reads gauges, sums (int as string) and histograms (mean of the interval)", () => {
    const points = parseMetrics({
      resourceMetrics: [
        {
          resource,
          scopeMetrics: [
            {
              metrics: [
                {
                  name: "outbox.pending",
                  unit: "{message}",
                  gauge: { dataPoints: [{ asInt: "7", timeUnixNano: "1700000000000000000" }] },
                },
                {
                  name: "outbox.published",
                  sum: {
                    dataPoints: [{ asDouble: 12, attributes: [{ key: "a", value: { stringValue: "b" } }] }],
                  },
                },
                {
                  name: "http.server.request.duration",
                  unit: "s",
                  histogram: { dataPoints: [{ count: "4", sum: 2 }] },
                },
              ],
            },
          ],
        },
      ],
    });
    expect(points).toEqual([
      expect.objectContaining({
        name: "outbox.pending",
        type: "gauge",
        value: 7,
        unit: "{message}",
        timeMs: 1_700_000_000_000,
      }),
      expect.objectContaining({ name: "outbox.published", type: "sum", value: 12, attributes: { a: "b" } }),
      expect.objectContaining({
        name: "http.server.request.duration",
        type: "histogram",
        value: 0.5,
        count: 4,
      }),
    ]);
  });
});
