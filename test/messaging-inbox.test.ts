import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp, type DistributedApplication } from "@outbox/apphost";
import { startTestApp, stopTestApp } from "@outbox/apphost/testing";
import {
  artemisTransport,
  createInbox,
  defineMessageTypes,
  DUPLICATE_ID_PROPERTY,
  messageVersion,
  toAmqpEnvelope,
  type ArtemisTransport,
} from "@outbox/messaging";
import { createLogger } from "@outbox/service-defaults";
import pg from "pg";
import type { Connection, Message } from "rhea";
import { z } from "zod";
import { connectToBroker, eventually, sendAndConfirm } from "./support/receiver.js";

// @outbox/messaging's inbox through its public API only, as a user's service would use it: its
// tables in a schema of its own on a real PostgreSQL, a handler registry with one type, consuming
// a real Artemis queue on which every message arrives twice (copies without a duplicate id, so the
// broker delivers both) and one message is poison.
const SOURCE = "notes";
const GROUP = "projector";
const QUEUE = `${SOURCE}.${GROUP}`;
const SCHEMA = "notes_app";
const logger = createLogger(
  "messaging-inbox-test",
  process.env.APPHOST_TEST_LOGS === "1" ? "info" : "silent",
);

let app: DistributedApplication;
let pool: pg.Pool;
let broker: Connection;
let transport: ArtemisTransport;

beforeAll(async () => {
  const model = createApp();
  model.addPostgres("notes-pg").addDatabase("notesdb");
  model
    .addArtemis("broker")
    .withDefaultAddressSettings({
      deadLetterAddress: "DLQ",
      autoCreateDeadLetterResources: true,
      redeliveryDelayMs: 100,
      maxDeliveryAttempts: 3,
    })
    .addQueue(QUEUE);
  app = await startTestApp({ model });
  // The owner: it creates the schema and tables, and the test's handler writes as it.
  pool = new pg.Pool({ connectionString: app.getMigrationsConnectionString("notesdb"), max: 8 });
  pool.on("error", () => undefined);
  broker = await connectToBroker(app);
  transport = artemisTransport({
    url: app.getConnectionString("broker"),
    containerId: `messaging-inbox-test-${randomUUID()}`,
    logger,
  });
  transport.open();
});

afterAll(async () => {
  await transport?.close();
  broker?.close();
  await pool?.end();
  await stopTestApp(app);
});

const noteTypes = defineMessageTypes({
  NoteCreated: { 1: messageVersion(z.object({ text: z.string().min(1) })) },
});

/** A NoteCreated as a producer's relay sends it, minus the duplicate id (so copies reach the queue). */
function noteMessage(id: string, text: string): Message {
  const message = toAmqpEnvelope({
    id,
    type: "NoteCreated",
    version: 1,
    aggregateId: `note-${id}`,
    payload: { text },
    createdAt: new Date(),
    ordered: true,
    priority: 4,
    deliverAt: null,
    trace: {},
  });
  const properties = { ...(message.application_properties as Record<string, unknown>) };
  delete properties[DUPLICATE_ID_PROPERTY];
  return { ...message, application_properties: properties };
}

describe("createInbox (public API) on PostgreSQL and Artemis", () => {
  it("applies each of N messages once although each arrives twice, and dead-letters the poison one", async () => {
    const inbox = createInbox({ schema: SCHEMA });
    expect((await inbox.migrate(pool)).applied).toEqual(["0001_inbox.sql"]);
    await pool.query(`create table ${SCHEMA}.notes (id text primary key, text text not null)`);
    await pool.query(`create table ${SCHEMA}.applications (message_id text not null)`);

    const consumer = inbox.startConsumer({
      pool,
      transport,
      source: SOURCE,
      group: GROUP,
      logger,
      batchSize: 8,
      maxInFlight: 16,
      lingerMs: 5,
      handlers: noteTypes.registry({
        NoteCreated: async (note, tx) => {
          // Every run of the handler is counted in the same transaction: a second application of
          // a message would show here (a plain insert, no ON CONFLICT to hide it).
          await tx.query(`insert into ${SCHEMA}.applications (message_id) values ($1)`, [note.messageId]);
          await tx.query(`insert into ${SCHEMA}.notes (id, text) values ($1, $2)`, [
            note.aggregateId,
            note.payload.text,
          ]);
        },
      }),
    });
    try {
      const n = 40;
      const ids = Array.from({ length: n }, () => randomUUID());
      const poisonId = randomUUID();
      // Each message, then its copy later on: the copies come in other batches, some in the same.
      const messages = [...ids, ...ids].map((id, i) => noteMessage(id, `note ${i % n}`));
      messages.splice(n, 0, noteMessage(poisonId, ""));
      for (const message of messages) await sendAndConfirm(broker, QUEUE, message);

      await eventually("every message applied and every copy skipped", () =>
        Promise.resolve(
          consumer.consumer.counters.processed === n && consumer.consumer.counters.duplicates === n
            ? true
            : undefined,
        ),
      );
      const applications = await pool.query<{ message_id: string; times: number }>(
        `select message_id, count(*)::int as times from ${SCHEMA}.applications group by message_id`,
      );
      expect(applications.rows).toHaveLength(n);
      expect(applications.rows.every((row) => row.times === 1)).toBe(true);
      expect(new Set(applications.rows.map((row) => row.message_id))).toEqual(new Set(ids));
      const inboxRows = await pool.query<{ n: number }>(
        `select count(*)::int as n from ${SCHEMA}.inbox where consumer_group = $1`,
        [GROUP],
      );
      expect(inboxRows.rows[0]?.n).toBe(n);

      // The poison one: in the group's dead letters with its reason recorded, never applied.
      const deadLetters = transport.deadLetters(SOURCE, GROUP);
      try {
        const dead = await eventually("the poison message dead-lettered", async () => {
          const entries = await deadLetters.browse(10);
          return entries.find((entry) => entry.messageId === poisonId);
        });
        expect(dead.messageId).toBe(poisonId);
        expect(await deadLetters.count()).toBe(1);
      } finally {
        await deadLetters.close();
      }
      const failures = await pool.query<{ kind: string; error: string }>(
        `select kind, error from ${SCHEMA}.inbox_failures where message_id = $1 and consumer_group = $2`,
        [poisonId, GROUP],
      );
      expect(failures.rows).toEqual([
        { kind: "poison", error: expect.stringMatching(/invalid NoteCreated@1 payload/) as string },
      ]);
      expect(consumer.consumer.counters).toMatchObject({ rejected: 1, failed: 0 });
    } finally {
      await consumer.stop();
    }
  });
});
