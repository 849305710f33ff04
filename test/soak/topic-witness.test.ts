import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Consumer, Producer, ProduceAcks, stringSerializers } from "@platformatic/kafka";
import { AppBuilder, type DistributedApplication } from "@outbox/apphost";
import { startTestApp, stopTestApp } from "@outbox/apphost/testing";
import { MESSAGE_ID_HEADER, readTopicWitness } from "./topic-witness.js";

// The Kafka soak's witness (topic-witness.ts) tells a second copy on the topic from a redelivery:
// it counts a record written twice, not a record a group read twice, not an aborted transaction's
// record, and it keeps counting across a broker kill (the records are on disk).
let app: DistributedApplication;
const TOPIC = "events";

beforeAll(async () => {
  const model = new AppBuilder({ name: "topic-witness" });
  model.addKafka("kafka", { topics: [{ name: TOPIC, partitions: 3 }] });
  app = await startTestApp({ model, mode: "process" });
});

afterAll(async () => {
  await stopTestApp(app);
});

function bootstrap(): string[] {
  return [app.getConnectionString("kafka")];
}

function record(id: string) {
  return { topic: TOPIC, key: `aggregate-${id}`, value: id, headers: { [MESSAGE_ID_HEADER]: id } };
}

async function produce(ids: string[], opts: { abort?: boolean } = {}): Promise<void> {
  const producer = new Producer({
    clientId: "topic-witness-test",
    bootstrapBrokers: bootstrap(),
    idempotent: true,
    acks: ProduceAcks.ALL,
    serializers: stringSerializers,
    ...(opts.abort ? { transactionalId: "topic-witness-aborted" } : {}),
  });
  try {
    if (opts.abort) {
      const transaction = await producer.beginTransaction();
      await transaction.send({ messages: ids.map(record) });
      await transaction.abort();
    } else await producer.send({ messages: ids.map(record) });
  } finally {
    await producer.close();
  }
}

/** A group of the system under test reading every record, committing as it goes. */
async function readAsGroup(group: string, count: number): Promise<void> {
  const consumer = new Consumer({
    clientId: "topic-witness-group",
    groupId: group,
    bootstrapBrokers: bootstrap(),
  });
  try {
    const stream = await consumer.consume({ topics: [TOPIC], mode: "earliest", autocommit: 100 });
    let seen = 0;
    await new Promise<void>((resolve) => {
      stream.on("data", () => {
        seen += 1;
        if (seen === count) resolve();
      });
    });
  } finally {
    await new Promise<void>((resolve, reject) => {
      consumer.close(true, (error) => (error ? reject(error) : resolve()));
    });
  }
}

describe("the Kafka soak's topic witness", () => {
  it("counts a record written twice, not a group's second read nor an aborted transaction, across a broker kill", async () => {
    const ids = Array.from({ length: 30 }, (_, i) => `m-${i}`);
    await produce(ids);
    // The relay published m-7 again (killed before it marked the row): a second copy.
    await produce(["m-7"]);
    // Written in a transaction that aborted: never visible to a read-committed consumer.
    await produce(["aborted"], { abort: true });
    // A group reading everything twice (a redelivery after a crash) writes nothing to the topic.
    await readAsGroup("g", 31);
    await readAsGroup("g-again", 31);
    const before = await readTopicWitness({
      bootstrap: bootstrap().join(","),
      topic: TOPIC,
      timeoutMs: 60_000,
    });
    expect(before).toEqual({ messages: 31, distinct: 30, copied: [{ messageId: "m-7", times: 2 }] });

    await app.killResource("kafka");
    await app.startResource("kafka");
    await app.waitForHealthy("kafka", 120_000);
    await produce(["after-kill"]);
    const after = await readTopicWitness({
      bootstrap: bootstrap().join(","),
      topic: TOPIC,
      timeoutMs: 60_000,
    });
    expect(after).toEqual({ messages: 32, distinct: 31, copied: [{ messageId: "m-7", times: 2 }] });
  }, 240_000);
});
