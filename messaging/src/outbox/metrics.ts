import { metrics, type Attributes } from "@opentelemetry/api";

/** Figures the observable gauges read at collection time (one query, see outboxGaugeFigures). */
export type GaugeSource = () => Promise<{
  pending: number;
  dead: number;
  blockedAggregates: number;
  oldestPendingAt: Date | null;
}>;

/**
 * The relay's OpenTelemetry metrics. Created through the global MeterProvider: no-ops until an
 * SDK is registered (service-defaults' instrument does that when telemetry is on).
 *
 * - outbox.messages.pending / outbox.messages.dead / outbox.aggregates.blocked /
 *   outbox.oldest_pending.age (observable gauges, table-wide, read only when a reader collects —
 *   nothing is queried without an SDK);
 * - outbox.messages.published (counter), outbox.publish.failures (counter, by outcome);
 * - outbox.publish.latency (histogram, ms): row creation (≈ commit) → broker accepted.
 */
export class OutboxMetrics {
  private readonly meter = metrics.getMeter("outbox-relay");
  private readonly published = this.meter.createCounter("outbox.messages.published", {
    description: "Outbox messages accepted by the broker and marked published",
  });
  private readonly failures = this.meter.createCounter("outbox.publish.failures", {
    description:
      "Sends that were not accepted (attribute outcome: rejected, released, modified, unknown, dead)",
  });
  private readonly latency = this.meter.createHistogram("outbox.publish.latency", {
    description: "Outbox row creation (transaction) to broker acceptance",
    unit: "ms",
    advice: { explicitBucketBoundaries: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000] },
  });

  constructor(
    private readonly attributes: Attributes,
    gauges?: GaugeSource,
  ) {
    if (gauges === undefined) return;
    const pending = this.meter.createObservableGauge("outbox.messages.pending", {
      description: "Pending outbox rows (all instances)",
    });
    const dead = this.meter.createObservableGauge("outbox.messages.dead", {
      description: "Dead outbox rows waiting for an operator",
    });
    const blocked = this.meter.createObservableGauge("outbox.aggregates.blocked", {
      description: "Aggregates stopped at a dead row: their later messages wait until it is retried",
    });
    const oldest = this.meter.createObservableGauge("outbox.oldest_pending.age", {
      description: "Age of the oldest pending outbox row",
      unit: "ms",
    });
    this.meter.addBatchObservableCallback(
      async (result) => {
        try {
          const figures = await gauges();
          result.observe(pending, figures.pending, attributes);
          result.observe(dead, figures.dead, attributes);
          result.observe(blocked, figures.blockedAggregates, attributes);
          result.observe(
            oldest,
            figures.oldestPendingAt === null
              ? 0
              : Math.max(0, Date.now() - figures.oldestPendingAt.getTime()),
            attributes,
          );
        } catch {
          // Database unreachable: no observation this round (health reports the outage).
        }
      },
      [pending, dead, blocked, oldest],
    );
  }

  recordPublished(rows: ReadonlyArray<{ createdAt: Date; publishedAt: Date }>): void {
    if (rows.length === 0) return;
    this.published.add(rows.length, this.attributes);
    for (const row of rows)
      this.latency.record(Math.max(0, row.publishedAt.getTime() - row.createdAt.getTime()), this.attributes);
  }

  recordFailure(outcome: string, count = 1): void {
    if (count > 0) this.failures.add(count, { ...this.attributes, outcome });
  }
}
