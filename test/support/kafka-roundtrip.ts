import kafkajs from "kafkajs";
import { AppBuilder } from "../../apphost/src/index.js";
import type { DistributedApplication } from "../../apphost/src/runtime/distributed-application.js";
import { waitUntil } from "../../apphost/src/runtime/wait.js";

const { Kafka, logLevel } = kafkajs;

/** A broker with a 3-partition topic and a client resource that references it and waits for it. */
export function kafkaModel(name: string): AppBuilder {
  const builder = new AppBuilder({ name });
  const kafka = builder.addKafka("events", {
    topics: [{ name: "orders", partitions: 3, retentionMs: 3_600_000 }],
  });
  builder
    .addExecutable("client", process.execPath, ["-e", "setInterval(() => {}, 60_000)"])
    .withReference(kafka)
    .waitFor(kafka);
  return builder;
}

/** The bootstrap servers the client resource was given. */
export function injectedBootstrap(app: DistributedApplication): string {
  const value = app.environmentOf("client")?.ConnectionStrings__events;
  if (!value) throw new Error("the client resource has no ConnectionStrings__events");
  return value;
}

function client(bootstrap: string): InstanceType<typeof Kafka> {
  return new Kafka({ clientId: "kafka-test", brokers: [bootstrap], logLevel: logLevel.NOTHING });
}

/** Partition count of a topic, as the broker reports it. */
export async function partitionsOf(bootstrap: string, topic: string): Promise<number> {
  const admin = client(bootstrap).admin();
  await admin.connect();
  try {
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    return metadata.topics[0]?.partitions.length ?? 0;
  } finally {
    await admin.disconnect();
  }
}

/** Sends one record per key (acks from all in-sync replicas) and returns the keys. */
export async function produce(bootstrap: string, topic: string, keys: string[]): Promise<void> {
  const producer = client(bootstrap).producer({ idempotent: true });
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages: keys.map((key) => ({ key, value: `value-${key}` })) });
  } finally {
    await producer.disconnect();
  }
}

/** Reads the topic from the beginning with a new group until `count` records arrived; returns their keys and partitions. */
export async function consume(
  bootstrap: string,
  topic: string,
  count: number,
  group: string,
): Promise<Array<{ key: string; partition: number }>> {
  const consumer = client(bootstrap).consumer({ groupId: group });
  const received: Array<{ key: string; partition: number }> = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: ({ message, partition }) => {
        received.push({ key: message.key?.toString() ?? "", partition });
        return Promise.resolve();
      },
    });
    await waitUntil(() => Promise.resolve(received.length >= count), {
      timeoutMs: 60_000,
      intervalMs: 100,
      what: `${count} records on ${topic}`,
    });
    return received;
  } finally {
    await consumer.disconnect();
  }
}
