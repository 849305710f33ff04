import { metrics } from "@opentelemetry/api";
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type ResourceMetrics,
} from "@opentelemetry/sdk-metrics";
import { afterAll, describe, expect, it } from "vitest";
import { OutboxMetrics } from "./metrics.js";

// A real SDK meter provider with a manual collect: what a metrics exporter would see.
const reader = new PeriodicExportingMetricReader({
  exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
  exportIntervalMillis: 3_600_000,
});
const provider = new MeterProvider({ readers: [reader] });
metrics.setGlobalMeterProvider(provider);

afterAll(async () => {
  await provider.shutdown();
  metrics.disable();
});

function find(collected: ResourceMetrics, name: string) {
  for (const scope of collected.scopeMetrics)
    for (const metric of scope.metrics) if (metric.descriptor.name === name) return metric;
  return undefined;
}

describe("OutboxMetrics", () => {
  it("counts published messages and failures, records latency and observes the backlog gauges", async () => {
    const oldest = new Date(Date.now() - 5_000);
    const m = new OutboxMetrics({ "messaging.destination.name": "q" }, () =>
      Promise.resolve({ pending: 7, dead: 2, blockedAggregates: 1, oldestPendingAt: oldest }),
    );
    const createdAt = new Date(1_000);
    m.recordPublished([
      { createdAt, publishedAt: new Date(1_004) },
      { createdAt, publishedAt: new Date(1_030) },
    ]);
    m.recordFailure("rejected");
    m.recordFailure("unknown", 0); // nothing to count: not recorded

    const { resourceMetrics } = await reader.collect();
    const published = find(resourceMetrics, "outbox.messages.published");
    expect(published?.dataPoints[0]?.value).toBe(2);
    const failures = find(resourceMetrics, "outbox.publish.failures");
    expect(failures?.dataPoints.map((p) => [p.attributes.outcome, p.value])).toEqual([["rejected", 1]]);
    const latency = find(resourceMetrics, "outbox.publish.latency");
    expect(latency?.dataPoints[0]?.value).toMatchObject({ count: 2, sum: 34, min: 4, max: 30 });
    expect(find(resourceMetrics, "outbox.messages.pending")?.dataPoints[0]?.value).toBe(7);
    expect(find(resourceMetrics, "outbox.messages.dead")?.dataPoints[0]?.value).toBe(2);
    expect(find(resourceMetrics, "outbox.aggregates.blocked")?.dataPoints[0]?.value).toBe(1);
    const age = find(resourceMetrics, "outbox.oldest_pending.age")?.dataPoints[0]?.value;
    expect(age).toBeGreaterThanOrEqual(5_000);
  });
});
