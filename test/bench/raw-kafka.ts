// The Kafka transport's own limit: produce → consume on one topic with the transport's client
// (@platformatic/kafka), an idempotent producer with acks from all in-sync replicas, no database.
// The counterpart of the bench's raw Artemis figure.
import { Consumer, Producer, ProduceAcks, type Message } from "@platformatic/kafka";
import { v7 as uuidv7 } from "uuid";
import { round, type Percentiles } from "./scenarios.js";

/** The topic the raw run uses: partitioned like the events topic (entity-items: 3). */
export const RAW_KAFKA_TOPIC = "bench-raw-kafka";
export const RAW_KAFKA_PARTITIONS = 3;

export interface RawKafkaOptions {
  /** Bootstrap servers `host:port[,…]`. */
  bootstrap: string;
  topic?: string;
  durationS: number;
  /** Records per produce request: the relay publishes rows in batches too. */
  batchSize?: number;
  /**
   * Producers sending at once, each one request at a time: the client's idempotent producer
   * refuses concurrent requests on one producer id (OUT_OF_ORDER_SEQUENCE_NUMBER).
   */
  producers?: number;
}

export interface RawKafkaResult {
  /** Records produced, acknowledged and consumed per second over the window. */
  msgsPerS: number;
  /** Records acknowledged per second over the window (the producer's side alone). */
  producedPerS: number;
  /** Send → acknowledged by the broker, per record. */
  produceLatencyMs: Percentiles;
  /** Send → read by the consumer group, per record. */
  e2eLatencyMs: Percentiles;
  produced: number;
  consumed: number;
}

/** Nearest-rank percentiles of a sample (ms). */
export function percentilesOf(sample: readonly number[]): Percentiles {
  if (sample.length === 0) return { p50: Number.NaN, p95: Number.NaN, p99: Number.NaN };
  const sorted = [...sample].sort((a, b) => a - b);
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
  return { p50: round(at(0.5), 2), p95: round(at(0.95), 2), p99: round(at(0.99), 2) };
}

function parseBrokers(bootstrap: string): string[] {
  const brokers = bootstrap
    .split(",")
    .map((b) => b.trim())
    .filter(Boolean);
  if (brokers.length === 0) throw new Error(`raw Kafka: no bootstrap servers in "${bootstrap}"`);
  return brokers;
}

/**
 * Produces for `durationS` seconds, pipelined, while a consumer group reads the topic; returns the
 * rate of records that made the whole trip and the latency percentiles. Every record sent is
 * waited for before returning, so the figure never counts a record that was lost.
 */
export async function rawKafka(opts: RawKafkaOptions): Promise<RawKafkaResult> {
  const topic = opts.topic ?? RAW_KAFKA_TOPIC;
  const batchSize = opts.batchSize ?? 100;
  const producerCount = opts.producers ?? 1;
  const bootstrapBrokers = parseBrokers(opts.bootstrap);
  const run = uuidv7();
  const producers = Array.from(
    { length: producerCount },
    (_, i) =>
      new Producer({
        clientId: `bench-raw-producer-${i}-${run}`,
        bootstrapBrokers,
        idempotent: true,
        acks: ProduceAcks.ALL,
      }),
  );
  const consumer = new Consumer({
    clientId: `bench-raw-consumer-${run}`,
    groupId: `bench-raw-${run}`,
    bootstrapBrokers,
    sessionTimeout: 10_000,
    heartbeatInterval: 1_000,
  });
  const sentAt = new Map<string, number>();
  const produceLatency: number[] = [];
  const e2eLatency: number[] = [];
  let consumedInWindow = 0;
  let consumed = 0;
  let windowOpen = false;
  let allConsumed: (() => void) | undefined;
  let expected = Number.POSITIVE_INFINITY;
  try {
    // A fresh group reading from the start of the topic: every record of this run is seen even if
    // the group's assignment lands after the first sends. Other runs' records are skipped by id.
    const stream = await consumer.consume({ topics: [topic], mode: "earliest", maxWaitTime: 100 });
    stream.on("data", (message: Message<Buffer, Buffer, Buffer, Buffer>) => {
      const id = message.key?.toString() ?? "";
      const started = sentAt.get(id);
      if (started === undefined) return;
      sentAt.delete(id);
      e2eLatency.push(performance.now() - started);
      consumed += 1;
      if (windowOpen) consumedInWindow += 1;
      if (consumed >= expected) allConsumed?.();
    });
    const streamFailed = new Promise<never>((_, reject) => stream.once("error", reject));
    streamFailed.catch(() => undefined);

    const value = Buffer.from(JSON.stringify({ name: "raw", description: `bench item ${"x".repeat(64)}` }));
    const produceBatch = async (producer: Producer): Promise<number> => {
      const started = performance.now();
      const messages = Array.from({ length: batchSize }, () => {
        const key = uuidv7();
        sentAt.set(key, started);
        return {
          topic,
          key: Buffer.from(key),
          value,
          headers: new Map([[Buffer.from("run"), Buffer.from(run)]]),
        };
      });
      await producer.send({ messages });
      const took = performance.now() - started;
      for (let i = 0; i < batchSize; i++) produceLatency.push(took);
      return batchSize;
    };

    // Warm-up: metadata, producer id, the group's join; not counted.
    await Promise.all(producers.map((producer) => produceBatch(producer)));
    await new Promise<void>((resolve, reject) => {
      const check = setInterval(() => {
        if (consumed >= batchSize * producerCount) {
          clearInterval(check);
          resolve();
        }
      }, 20);
      setTimeout(() => {
        clearInterval(check);
        reject(new Error(`raw Kafka: the consumer group read nothing within 60 s from ${opts.bootstrap}`));
      }, 60_000).unref();
    });
    produceLatency.length = 0;
    e2eLatency.length = 0;
    const warmedUp = consumed;

    windowOpen = true;
    const startedAt = performance.now();
    const deadline = startedAt + opts.durationS * 1000;
    let produced = 0;
    await Promise.all(
      producers.map(async (producer) => {
        while (performance.now() < deadline) {
          const sent = await produceBatch(producer);
          produced += sent;
        }
      }),
    );
    const producedAt = performance.now();
    // Stop counting at the deadline; then wait for every record sent, so none was lost.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, deadline - performance.now())));
    windowOpen = false;
    const windowS = (performance.now() - startedAt) / 1000;
    const rate = consumedInWindow / windowS;
    expected = warmedUp + produced;
    if (consumed < expected) {
      await Promise.race([
        new Promise<void>((resolve) => (allConsumed = resolve)),
        streamFailed,
        new Promise<never>((_, reject) =>
          setTimeout(
            () => reject(new Error(`raw Kafka: ${consumed - warmedUp} of ${produced} records read in 60 s`)),
            60_000,
          ).unref(),
        ),
      ]);
    }
    return {
      msgsPerS: rate,
      producedPerS: produced / ((producedAt - startedAt) / 1000),
      produceLatencyMs: percentilesOf(produceLatency),
      e2eLatencyMs: percentilesOf(e2eLatency),
      produced,
      consumed: consumed - warmedUp,
    };
  } finally {
    // Forced: the consume stream is still open.
    await new Promise<void>((resolve, reject) => {
      consumer.close(true, (error) => (error ? reject(error) : resolve()));
    });
    await Promise.all(producers.map((producer) => producer.close()));
  }
}
