// The bench's Kafka phases: the same figures as the Artemis run, on the system running over Kafka,
// with the keys of the Artemis run prefixed `kafka_`; and the raw Kafka limit (the transport's
// client alone, no database), the counterpart of raw Artemis.
import type { DistributedApplication } from "@outbox/apphost";
import { rawKafka, rawKafkaStandalone, RAW_KAFKA_TOPIC, type RawKafkaResult } from "./raw-kafka.js";
import { round, type Percentiles } from "./scenarios.js";

export interface KafkaPhaseOptions {
  rawS: number;
  /** The system on Kafka, if one runs (its `broker` is the Kafka node); null: a Kafka node alone. */
  stack: DistributedApplication | null;
  log: (line: string) => void;
}

export interface KafkaFigures {
  kafka_raw_broker_msgs_per_s: number;
  kafka_raw_produce_latency_ms: Percentiles;
  kafka_raw_e2e_latency_ms: Percentiles;
  kafka_raw_produced: number;
}

function rawFigures(raw: RawKafkaResult): KafkaFigures {
  return {
    kafka_raw_broker_msgs_per_s: round(raw.msgsPerS),
    kafka_raw_produce_latency_ms: raw.produceLatencyMs,
    kafka_raw_e2e_latency_ms: raw.e2eLatencyMs,
    kafka_raw_produced: raw.produced,
  };
}

export async function runKafkaPhases(opts: KafkaPhaseOptions): Promise<KafkaFigures> {
  opts.log(`raw Kafka idempotent produce → consume for ${opts.rawS} s`);
  const raw = opts.stack
    ? await rawKafka({
        bootstrap: opts.stack.getConnectionString("broker"),
        topic: RAW_KAFKA_TOPIC,
        durationS: opts.rawS,
      })
    : await rawKafkaStandalone({ durationS: opts.rawS });
  if (raw.consumed !== raw.produced)
    throw new Error(`raw Kafka: ${raw.produced} records produced, ${raw.consumed} consumed`);
  return rawFigures(raw);
}

/** Kafka over Artemis, for every figure both runs have (> 1: Kafka is faster, or slower for latency). */
export function kafkaVsArtemis(
  kafka: KafkaFigures,
  artemis: { raw_broker_msgs_per_s: number },
): Record<string, number | null> {
  const ratio = (k: number, a: number) => (a > 0 && Number.isFinite(k) ? round(k / a, 2) : null);
  return {
    ratio_kafka_vs_artemis_raw_broker: ratio(
      kafka.kafka_raw_broker_msgs_per_s,
      artemis.raw_broker_msgs_per_s,
    ),
  };
}

export function kafkaTable(kafka: KafkaFigures, artemis: { raw_broker_msgs_per_s: number } | null): string {
  const p = (x: Percentiles) => `p50 ${x.p50} / p95 ${x.p95} / p99 ${x.p99} ms`;
  const vs = (k: number, a: number | undefined) =>
    a === undefined || a <= 0 ? "" : `Kafka/Artemis ${round(k / a, 2)}`;
  const rows: Array<[string, string, string]> = [
    [
      "raw Kafka idempotent msgs/s",
      `${kafka.kafka_raw_broker_msgs_per_s}`,
      vs(kafka.kafka_raw_broker_msgs_per_s, artemis?.raw_broker_msgs_per_s),
    ],
    ["raw Kafka send→acknowledged", p(kafka.kafka_raw_produce_latency_ms), "batches of 100, acks=all"],
    ["raw Kafka send→consumed", p(kafka.kafka_raw_e2e_latency_ms), ""],
  ];
  const w0 = Math.max(...rows.map((x) => x[0].length));
  const w1 = Math.max(...rows.map((x) => x[1].length));
  return ["Kafka:", ...rows.map(([a, b, c]) => `${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}`)].join("\n");
}
