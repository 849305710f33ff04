// A Kafka broker started by the AppHost harness with the topics a transport topology needs, and a
// client of its own to inject records and to count a group's lag (the transport contract suite's
// RawBroker, and the Kafka transport's own integration tests).
import { Consumer, Producer } from "@platformatic/kafka";
import { AppBuilder, type DistributedApplication } from "@outbox/apphost";
import { startTestApp, stopTestApp } from "@outbox/apphost/testing";
import { kafkaGroupId, kafkaGroupTopics, kafkaTransport, type KafkaTransport } from "@outbox/messaging";
import type { TopologyDeclaration } from "../../messaging/src/transport/transport.js";
import { createLogger } from "@outbox/service-defaults";

const logger = createLogger("kafka-transport-test", process.env.KAFKA_TEST_LOG === "1" ? "debug" : "silent");

export interface KafkaTestBroker {
  bootstrap: string;
  transport(name: string): KafkaTransport;
  /** Writes a record with the given headers and value, as any other client could. */
  produce(
    topic: string,
    record: { key?: string; value: string; headers: Record<string, string> },
  ): Promise<void>;
  /** Records of the group not committed yet on the source and its retry tiers. */
  lag(source: string, group: string): Promise<number>;
  /** Stops the broker and starts it again (same port, same data), waiting until it is healthy. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startKafkaTestBroker(
  name: string,
  topology: TopologyDeclaration,
  retryDelaysMs: readonly number[],
  sourcePartitions = 3,
): Promise<KafkaTestBroker> {
  const model = new AppBuilder({ name });
  const kafka = model.addKafka("broker");
  for (const destination of topology.destinations) {
    kafka.withTopic(destination.name, { partitions: sourcePartitions });
    for (const group of destination.groups) {
      const topics = kafkaGroupTopics(destination.name, group, retryDelaysMs.length);
      for (const retry of topics.retry) kafka.withTopic(retry, { partitions: 1 });
      kafka.withTopic(topics.deadLetter, { partitions: 1, retentionMs: -1 });
      // The model has no compaction setting yet: a plain topic keeps the marks as well here.
      kafka.withTopic(topics.marks, { partitions: 1, retentionMs: -1 });
    }
  }
  let app: DistributedApplication | undefined;
  const clients: Array<Producer | Consumer> = [];
  const close = async (): Promise<void> => {
    await Promise.allSettled(clients.map((c) => c.close()));
    await stopTestApp(app);
  };
  try {
    app = await startTestApp({ model, mode: "process" });
    const bootstrap = app.getConnectionString("broker");
    if (!bootstrap) throw new Error("the Kafka resource has no connection string");
    const producer = new Producer({
      clientId: `${name}-raw`,
      bootstrapBrokers: [bootstrap],
      acks: -1,
      autocreateTopics: false,
    });
    const admin = new Consumer({
      clientId: `${name}-lag`,
      bootstrapBrokers: [bootstrap],
      groupId: `${name}-lag`,
    });
    clients.push(producer, admin);
    const lagOf = async (topic: string, groupId: string): Promise<number> => {
      const [starts, ends] = await Promise.all([
        admin.listOffsets({ topics: [topic], timestamp: -2n }),
        admin.listOffsets({ topics: [topic], timestamp: -1n }),
      ]);
      const start = starts.get(topic) ?? [];
      const end = ends.get(topic) ?? [];
      const lister = new Consumer({ clientId: `${name}-lag`, bootstrapBrokers: [bootstrap], groupId });
      try {
        const committed = await lister.listCommittedOffsets({
          topics: [{ topic, partitions: start.map((_, i) => i) }],
        });
        const offsets = committed.get(topic) ?? [];
        return start.reduce((sum, s, i) => {
          const from = (offsets[i] ?? -1n) >= 0n ? offsets[i]! : s;
          return sum + Number((end[i] ?? s) - from);
        }, 0);
      } finally {
        await lister.close();
      }
    };
    return {
      bootstrap,
      transport: (clientId) =>
        kafkaTransport({ brokers: bootstrap, clientId, logger, retryDelaysMs, sessionTimeoutMs: 6_000 }),
      produce: async (topic, record) => {
        const headers = new Map<Buffer, Buffer>();
        for (const [k, v] of Object.entries(record.headers)) headers.set(Buffer.from(k), Buffer.from(v));
        await producer.send({
          messages: [
            {
              topic,
              ...(record.key !== undefined ? { key: Buffer.from(record.key) } : {}),
              value: Buffer.from(record.value),
              headers,
            },
          ],
        });
      },
      lag: async (source, group) => {
        const topics = kafkaGroupTopics(source, group, retryDelaysMs.length);
        const lags = await Promise.all([
          lagOf(source, kafkaGroupId(source, group)),
          ...topics.retry.map((retry) => lagOf(retry, retry)),
        ]);
        return lags.reduce((a, b) => a + b, 0);
      },
      restart: async () => {
        await app!.restartResource("broker");
        await app!.waitForHealthy("broker");
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
