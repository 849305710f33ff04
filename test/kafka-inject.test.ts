import { randomUUID } from "node:crypto";
import kafkajs from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DistributedApplication } from "@outbox/apphost";
import { startTestApp, stopTestApp } from "@outbox/apphost/testing";
import { toKafkaRecord, type OutgoingEnvelope } from "@outbox/messaging";
import { waitUntil } from "../apphost/src/runtime/wait.js";
import { buildApp } from "../apphost.js";
import { adminFetch, useAdminTokens } from "./support/admin.js";
import { deadLetters } from "./support/receiver.js";
import { postEntity, query, waitForApplied, waitForQuiet } from "./support/system.js";

// A client of our own writes onto the system's Kafka topic what the relay never would: a second
// copy of a published message (same message-id) and a record no consumer can read. The inbox must
// apply the copy once; the poison must land in each group's dead-letter topic and be served by the
// receiver's dead-letter API, whose ids name Kafka partition:offset entries.
const { Kafka, logLevel } = kafkajs;

let app: DistributedApplication;
let bootstrap: string;
let receiver: string;

beforeAll(async () => {
  app = await startTestApp({ model: buildApp({ transport: "kafka" }), mode: "process" });
  useAdminTokens(app);
  bootstrap = app.getConnectionString("broker");
  receiver = app.getEndpoint("receiver");
});

afterAll(async () => {
  await stopTestApp(app);
});

function kafka(): InstanceType<typeof Kafka> {
  return new Kafka({ clientId: "inject-test", brokers: [bootstrap], logLevel: logLevel.NOTHING });
}

async function produce(records: ReturnType<typeof toKafkaRecord>[]): Promise<void> {
  const producer = kafka().producer({ idempotent: true });
  await producer.connect();
  try {
    await producer.send({
      topic: "entity-items",
      acks: -1,
      messages: records.map((r) => ({ key: r.key ?? null, value: r.value, headers: r.headers })),
    });
  } finally {
    await producer.disconnect();
  }
}

/** How many records of `topic` carry `messageId` in their message-id header (read up to the end). */
async function recordsWithMessageId(topic: string, messageId: string): Promise<number> {
  const client = kafka();
  const admin = client.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const pending = new Map(ends.filter((p) => p.high !== p.low).map((p) => [p.partition, Number(p.high)]));
  if (pending.size === 0) return 0;
  let found = 0;
  const consumer = client.consumer({ groupId: `inject-scan-${randomUUID()}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let finish: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (finish = resolve));
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        if (message.headers?.["message-id"]?.toString() === messageId) found += 1;
        const end = pending.get(partition);
        if (end !== undefined && Number(message.offset) + 1 >= end) pending.delete(partition);
        if (pending.size === 0) finish();
        return Promise.resolve();
      },
    });
    await Promise.race([
      done,
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error(`${topic} not read to its end in 60 s`)), 60_000),
      ),
    ]);
  } finally {
    await consumer.disconnect();
  }
  return found;
}

describe("records injected onto the Kafka topic", () => {
  it("applies a second copy of a published message once in each group", async () => {
    const posted = await postEntity(app.getEndpoint("sender"), { name: "injected-duplicate" });
    expect(posted.status).toBe(201);
    const entityId = (posted.body as { id: string }).id;
    expect((await waitForApplied(app, [entityId])).get(entityId)).toBe(1);

    // The published row, as the relay sent it: the same message id, key, headers and value.
    const [row] = await query<{
      id: string;
      type: string;
      version: number;
      aggregate_id: string;
      payload: unknown;
      created_at: Date;
    }>(
      app.getConnectionString("senderdb"),
      "SELECT id, type, version, aggregate_id, payload, created_at FROM outbox_messages WHERE aggregate_id = $1",
      [entityId],
    );
    expect(row).toBeDefined();
    const envelope: OutgoingEnvelope = {
      id: row!.id,
      type: row!.type,
      version: row!.version,
      aggregateId: row!.aggregate_id,
      payload: row!.payload,
      createdAt: row!.created_at,
      ordered: true,
      priority: 4,
      deliverAt: null,
      trace: {},
    };
    // Precondition: the relay wrote it once.
    expect(await recordsWithMessageId("entity-items", row!.id)).toBe(1);
    await produce([toKafkaRecord(envelope)]);
    expect(await recordsWithMessageId("entity-items", row!.id)).toBe(2);

    // The receiver group saw the copy and skipped it (recorded as a duplicate, not applied again).
    await waitUntil(
      async () =>
        (
          await query<{ n: number }>(
            app.getConnectionString("receiverdb"),
            "SELECT count(*)::int AS n FROM duplicate_deliveries WHERE message_id = $1 AND consumer_group = 'receiver'",
            [row!.id],
          )
        )[0]!.n > 0,
      { timeoutMs: 60_000, intervalMs: 200, what: "the receiver group to skip the injected copy" },
    );
    await waitForQuiet(app);
    const [counts] = await query<{ inbox: number; items: number; audit: number }>(
      app.getConnectionString("receiverdb"),
      `SELECT (SELECT count(*)::int FROM inbox WHERE message_id = $1 AND consumer_group = 'receiver') AS inbox,
              (SELECT count(*)::int FROM received_items WHERE id = $2::uuid) AS items,
              (SELECT count(*)::int FROM audit_log WHERE message_id = $1) AS audit`,
      [row!.id, entityId],
    );
    expect(counts).toEqual({ inbox: 1, items: 1, audit: 1 });
  });

  it("dead-letters a poison record in each group, browsable through the receiver's API", async () => {
    const poisonId = randomUUID();
    const before = await deadLetters(receiver, "receiver");
    expect(before.items.some((l) => l.messageId === poisonId)).toBe(false);
    await produce([
      {
        key: randomUUID(),
        value: Buffer.from("{ this is not JSON", "utf8"),
        headers: { "message-id": poisonId, type: "EntityItemCreated", version: "1" },
      },
    ]);

    for (const group of ["receiver", "audit"]) {
      await waitUntil(
        async () => (await deadLetters(receiver, group)).items.some((l) => l.messageId === poisonId),
        {
          timeoutMs: 60_000,
          intervalMs: 500,
          what: `the poison record in the ${group} group's dead letters`,
        },
      );
      expect(await recordsWithMessageId(`entity-items.${group}.dlt`, poisonId), group).toBe(1);
    }
    const view = await deadLetters(receiver, "receiver");
    expect(view.queue).toBe("entity-items.receiver.dlt");
    expect(view.count).toBe(before.count + 1);
    const letter = view.items.find((l) => l.messageId === poisonId)!;
    expect(letter.originalAddress).toBe("entity-items");
    expect(letter.originalQueue).toBe("entity-items.receiver");
    // Nothing was applied for it.
    const [inbox] = await query<{ n: number }>(
      app.getConnectionString("receiverdb"),
      "SELECT count(*)::int AS n FROM inbox WHERE message_id = $1",
      [poisonId],
    );
    expect(inbox!.n).toBe(0);

    // The numeric id the API lists names the Kafka entry: deleting it through the API marks it.
    const removed = await adminFetch(`${receiver}/api/DeadLetters/${letter.id}?group=receiver`, {
      method: "DELETE",
    });
    expect(removed.status, await removed.text()).toBe(204);
    const after = await deadLetters(receiver, "receiver");
    expect(after.items.some((l) => l.messageId === poisonId)).toBe(false);
    expect(after.count).toBe(before.count);
  });

  it("runs the dashboard's replay command over Kafka: the audit group's poison goes back, and dead again", async () => {
    const audit = await deadLetters(receiver, "audit");
    const poison = audit.items.filter((l) => l.messageId !== null);
    expect(poison.length).toBeGreaterThan(0);
    expect((await deadLetters(receiver, "receiver")).count).toBe(0);

    const result = await app.runCommand("receiver", "replay-dead-letters");
    expect(result.message).toBe(`replayed 0 to receiver, ${audit.count} to audit`);
    // Still undecodable: the group dead-letters it again, as a new entry of its dead-letter topic.
    await waitUntil(
      async () => {
        const again = await deadLetters(receiver, "audit");
        return (
          again.count === audit.count && again.items.every((l) => !audit.items.some((o) => o.id === l.id))
        );
      },
      { timeoutMs: 60_000, intervalMs: 500, what: "the replayed poison to be dead-lettered again" },
    );
  });
});
