// The bench's Kafka phases: the system of apphost.ts on Kafka (MESSAGING_TRANSPORT=kafka), driven
// like the Artemis run (max load, half load, a committed backlog), with the Artemis run's keys
// prefixed `kafka_`; and the raw Kafka limit (the transport's client alone, no database) on the
// same broker, the counterpart of raw Artemis.
import {
  KafkaResource,
  type AppBuilder,
  type DistributedApplication,
  type NodeServiceResource,
} from "@outbox/apphost";
import { startTestApp, stopTestApp } from "@outbox/apphost/testing";
import { openDatabase } from "../support/relay-harness.js";
import { soakModel } from "../soak/soak-model.js";
import type { CpuPerMessage } from "./cpu-per-message.js";
import { rawKafka, RAW_KAFKA_PARTITIONS, RAW_KAFKA_TOPIC, type RawKafkaResult } from "./raw-kafka.js";
import {
  backlogDrain,
  driveLoad,
  e2eLatency,
  maxLoad,
  publishLatency,
  round,
  waitApplied,
  warmUpAfterRestart,
  type Percentiles,
} from "./scenarios.js";

export interface KafkaPhaseSettings {
  loadS: number;
  halfLoadS: number;
  rawS: number;
  backlog: number;
  concurrency: number;
}

export interface KafkaFigures {
  kafka_e2e_msgs_per_s: number;
  kafka_post_rate_per_s: number;
  kafka_half_load_msgs_per_s: number;
  kafka_publish_latency_ms: Percentiles;
  kafka_e2e_latency_ms: Percentiles;
  kafka_backlog_relay_msgs_per_s: number;
  kafka_backlog_e2e_msgs_per_s: number;
  kafka_cpu_us_per_msg: CpuPerMessage;
  kafka_cpu_us_per_msg_backlog: CpuPerMessage;
  kafka_cpu_percent: Record<string, number>;
  kafka_rss_mb: Record<string, number>;
  kafka_raw_broker_msgs_per_s: number;
  kafka_raw_produce_latency_ms: Percentiles;
  kafka_raw_e2e_latency_ms: Percentiles;
  kafka_lost: number;
  kafka_duplicates_applied: number;
  kafka_post_errors: number;
  kafka_messages: number;
}

/** The figures of the Artemis run the Kafka ones are compared with. */
export interface ArtemisFigures {
  e2e_msgs_per_s: number;
  raw_broker_msgs_per_s: number;
  backlog_relay_msgs_per_s: number;
  backlog_e2e_msgs_per_s: number;
  publish_latency_ms: Percentiles;
  e2e_latency_ms: Percentiles;
  cpu_us_per_msg: CpuPerMessage;
  cpu_us_per_msg_backlog: CpuPerMessage;
}

/** apphost.ts on Kafka, with the bench's pool size and the raw run's topic on the same broker. */
export function kafkaBenchModel(concurrency: number): AppBuilder {
  const model = soakModel("kafka");
  const sender = model.resource("sender") as NodeServiceResource;
  sender.withEnvironment("PG_POOL_MAX", concurrency);
  const broker = model.resource("broker");
  if (!(broker instanceof KafkaResource)) throw new Error("the Kafka system has no Kafka broker");
  broker.withTopic(RAW_KAFKA_TOPIC, { partitions: RAW_KAFKA_PARTITIONS });
  return model;
}

export async function runKafkaPhases(
  settings: KafkaPhaseSettings,
  log: (line: string) => void,
): Promise<KafkaFigures> {
  log("starting the stack on Kafka");
  const app: DistributedApplication = await startTestApp({ model: kafkaBenchModel(settings.concurrency) });
  try {
    const senderUrl = app.getEndpoint("sender");
    const senderDb = app.getConnectionString("senderdb");
    const receiverDb = app.getConnectionString("receiverdb");
    await warmUpAfterRestart(senderUrl, "kafka-warmup", settings.concurrency);

    log(`Kafka max load: ${settings.concurrency} concurrent POSTs for ${settings.loadS} s`);
    const max = await maxLoad(app, settings.loadS, "kafka-load", settings.concurrency);
    const postRate = max.load.ids.length / ((max.load.endedAt - max.load.startedAt) / 1000);

    const halfRate = Math.max(1, Math.floor(max.e2eRate / 2));
    log(`Kafka half load: ${halfRate} POSTs/s for ${settings.halfLoadS} s`);
    const half = await driveLoad(senderUrl, settings.halfLoadS, {
      concurrency: settings.concurrency,
      ratePerS: halfRate,
      prefix: "kafka-half",
    });
    const halfApplied = await waitApplied(receiverDb, half.ids, 60_000);
    const publishAtHalf = await publishLatency(senderDb, half.ids);
    const e2eAtHalf = await e2eLatency(receiverDb, half.ids);

    log(`Kafka backlog of ${settings.backlog} rows committed at once, drained by the app's relay`);
    const { pool } = openDatabase(senderDb);
    let backlog: Awaited<ReturnType<typeof backlogDrain>>;
    try {
      backlog = await backlogDrain(app, pool, settings.backlog);
    } finally {
      await pool.end();
    }
    const backlogApplied = await waitApplied(receiverDb, backlog.ids, 10_000);

    log(`raw Kafka idempotent produce → consume for ${settings.rawS} s`);
    const raw = await rawKafka({ bootstrap: app.getConnectionString("broker"), durationS: settings.rawS });
    if (raw.consumed !== raw.produced)
      throw new Error(`raw Kafka: ${raw.produced} records produced, ${raw.consumed} consumed`);

    const all = [...max.load.ids, ...half.ids, ...backlog.ids];
    const counts = new Map([...max.applied.counts, ...halfApplied.counts, ...backlogApplied.counts]);
    return {
      kafka_e2e_msgs_per_s: round(max.e2eRate),
      kafka_post_rate_per_s: round(postRate),
      kafka_half_load_msgs_per_s: halfRate,
      kafka_publish_latency_ms: publishAtHalf,
      kafka_e2e_latency_ms: e2eAtHalf,
      kafka_backlog_relay_msgs_per_s: round(backlog.relayRate),
      kafka_backlog_e2e_msgs_per_s: round(backlog.e2eRate),
      kafka_cpu_us_per_msg: max.cpuPerMsg,
      kafka_cpu_us_per_msg_backlog: backlog.cpuPerMsg,
      kafka_cpu_percent: max.profile.cpuPercent,
      kafka_rss_mb: max.profile.rssMb,
      ...rawFigures(raw),
      kafka_lost: all.filter((id) => !counts.has(id)).length,
      kafka_duplicates_applied: [...counts.values()].filter((n) => n > 1).length,
      kafka_post_errors: max.load.errors + half.errors,
      kafka_messages: all.length,
    };
  } finally {
    await stopTestApp(app);
  }
}

function rawFigures(raw: RawKafkaResult) {
  return {
    kafka_raw_broker_msgs_per_s: round(raw.msgsPerS),
    kafka_raw_produce_latency_ms: raw.produceLatencyMs,
    kafka_raw_e2e_latency_ms: raw.e2eLatencyMs,
  };
}

/**
 * Kafka over Artemis for every figure both runs have: above 1, Kafka is faster (rates) or slower
 * (latencies and CPU per message).
 */
export function kafkaVsArtemis(kafka: KafkaFigures, artemis: ArtemisFigures): Record<string, number | null> {
  const ratio = (k: number | undefined, a: number | undefined) =>
    k === undefined || a === undefined || !(a > 0) || !Number.isFinite(k) ? null : round(k / a, 2);
  return {
    ratio_kafka_vs_artemis_e2e: ratio(kafka.kafka_e2e_msgs_per_s, artemis.e2e_msgs_per_s),
    ratio_kafka_vs_artemis_backlog_relay: ratio(
      kafka.kafka_backlog_relay_msgs_per_s,
      artemis.backlog_relay_msgs_per_s,
    ),
    ratio_kafka_vs_artemis_backlog_e2e: ratio(
      kafka.kafka_backlog_e2e_msgs_per_s,
      artemis.backlog_e2e_msgs_per_s,
    ),
    ratio_kafka_vs_artemis_publish_p99_at_half: ratio(
      kafka.kafka_publish_latency_ms.p99,
      artemis.publish_latency_ms.p99,
    ),
    ratio_kafka_vs_artemis_e2e_p99_at_half: ratio(kafka.kafka_e2e_latency_ms.p99, artemis.e2e_latency_ms.p99),
    ratio_kafka_vs_artemis_cpu_us_per_msg: ratio(
      kafka.kafka_cpu_us_per_msg.stack,
      artemis.cpu_us_per_msg.stack,
    ),
    ratio_kafka_vs_artemis_cpu_us_per_msg_backlog: ratio(
      kafka.kafka_cpu_us_per_msg_backlog.stack,
      artemis.cpu_us_per_msg_backlog.stack,
    ),
    ratio_kafka_vs_artemis_raw_broker: ratio(
      kafka.kafka_raw_broker_msgs_per_s,
      artemis.raw_broker_msgs_per_s,
    ),
  };
}

export function kafkaTable(kafka: KafkaFigures, artemis: ArtemisFigures | null): string {
  const p = (x: Percentiles) => `p50 ${x.p50} / p95 ${x.p95} / p99 ${x.p99} ms`;
  const vs = (k: number | undefined, a: number | undefined) =>
    k === undefined || a === undefined || !(a > 0) ? "" : `Kafka/Artemis ${round(k / a, 2)}`;
  const rows: Array<[string, string, string]> = [
    [
      "end-to-end throughput (applied/s)",
      `${kafka.kafka_e2e_msgs_per_s}`,
      vs(kafka.kafka_e2e_msgs_per_s, artemis?.e2e_msgs_per_s),
    ],
    [
      "backlog: relay publish rate (msgs/s)",
      `${kafka.kafka_backlog_relay_msgs_per_s}`,
      vs(kafka.kafka_backlog_relay_msgs_per_s, artemis?.backlog_relay_msgs_per_s),
    ],
    [
      "backlog: end-to-end (applied/s)",
      `${kafka.kafka_backlog_e2e_msgs_per_s}`,
      vs(kafka.kafka_backlog_e2e_msgs_per_s, artemis?.backlog_e2e_msgs_per_s),
    ],
    [
      `commit→accepted at ${kafka.kafka_half_load_msgs_per_s}/s`,
      p(kafka.kafka_publish_latency_ms),
      vs(kafka.kafka_publish_latency_ms.p99, artemis?.publish_latency_ms.p99),
    ],
    [
      `commit→applied at ${kafka.kafka_half_load_msgs_per_s}/s`,
      p(kafka.kafka_e2e_latency_ms),
      vs(kafka.kafka_e2e_latency_ms.p99, artemis?.e2e_latency_ms.p99),
    ],
    [
      "CPU µs per message, stack (max load / backlog)",
      `${kafka.kafka_cpu_us_per_msg.stack ?? "—"} / ${kafka.kafka_cpu_us_per_msg_backlog.stack ?? "—"}`,
      vs(kafka.kafka_cpu_us_per_msg.stack, artemis?.cpu_us_per_msg.stack),
    ],
    [
      "raw Kafka idempotent msgs/s",
      `${kafka.kafka_raw_broker_msgs_per_s}`,
      vs(kafka.kafka_raw_broker_msgs_per_s, artemis?.raw_broker_msgs_per_s),
    ],
    ["raw Kafka send→acknowledged", p(kafka.kafka_raw_produce_latency_ms), "batches of 100, acks=all"],
    ["raw Kafka send→consumed", p(kafka.kafka_raw_e2e_latency_ms), ""],
    ["lost", `${kafka.kafka_lost}`, kafka.kafka_lost === 0 ? "met" : "NOT met"],
    [
      "duplicates applied",
      `${kafka.kafka_duplicates_applied}`,
      kafka.kafka_duplicates_applied === 0 ? "met" : "NOT met",
    ],
  ];
  const w0 = Math.max(...rows.map((x) => x[0].length));
  const w1 = Math.max(...rows.map((x) => x[1].length));
  return ["On Kafka:", ...rows.map(([a, b, c]) => `${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}`)].join("\n");
}
