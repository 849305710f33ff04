// A notes service on @outbox/messaging. POST /notes stores a note and enqueues its NoteCreated
// event in the same transaction; the relay publishes the event to Artemis; this same service
// consumes it (consumer group "projector") into a projection table, exactly once per event.
//
// Environment: ConnectionStrings__db (PostgreSQL), ConnectionStrings__broker (amqp://user:pass@host:port),
// PORT, HOST (default 127.0.0.1).

import { randomUUID } from "node:crypto";
import process from "node:process";
import express from "express";
import pg from "pg";
import { pino } from "pino";
import { z } from "zod";
import {
  artemisTransport,
  createInbox,
  createOutbox,
  defineMessageTypes,
  messageVersion,
} from "@outbox/messaging";

const SCHEMA = "notes_app";
const logger = pino({ level: process.env.LOG_LEVEL ?? "info" });
const pool = new pg.Pool({ connectionString: required("ConnectionStrings__db"), max: 8 });

// The app's own tables, next to the outbox and inbox tables the library migrates into the same schema.
await pool.query(`
  CREATE SCHEMA IF NOT EXISTS ${SCHEMA};
  CREATE TABLE IF NOT EXISTS ${SCHEMA}.notes (
    id uuid PRIMARY KEY, text text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
  -- applied counts how often the handler ran for a note: exactly once means 1, always.
  CREATE TABLE IF NOT EXISTS ${SCHEMA}.note_projection (
    id uuid PRIMARY KEY, text text NOT NULL, applied integer NOT NULL);`);
const outbox = createOutbox({ schema: SCHEMA });
const inbox = createInbox({ schema: SCHEMA });
await outbox.migrate(pool);
await inbox.migrate(pool);

const transport = artemisTransport({
  url: required("ConnectionStrings__broker"),
  containerId: `notes-${process.pid}`,
  logger,
});
transport.open();
const relay = outbox.startRelay({
  pool,
  transport,
  destination: "notes",
  owner: `notes-${process.pid}`,
  logger,
});

// What this service reads: one event type, one version, checked by a zod schema.
const types = defineMessageTypes({
  NoteCreated: { 1: messageVersion(z.object({ id: z.uuid(), text: z.string() })) },
});
const consumer = inbox.startConsumer({
  pool,
  transport,
  source: "notes",
  group: "projector",
  logger,
  handlers: types.registry({
    // Runs in the inbox's transaction: the projection row and the inbox row commit together.
    NoteCreated: async (event, tx) => {
      await tx.query(
        `INSERT INTO ${SCHEMA}.note_projection (id, text, applied) VALUES ($1, $2, 1)
         ON CONFLICT (id) DO UPDATE SET applied = note_projection.applied + 1`,
        [event.payload.id, event.payload.text],
      );
    },
  }),
});

const app = express();
app.use(express.json());

app.post("/notes", async (req, res) => {
  const text = req.body?.text;
  if (typeof text !== "string" || text.length === 0 || text.length > 1000) {
    res.status(400).json({ error: "text must be a string of 1 to 1000 characters" });
    return;
  }
  const id = randomUUID();
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query(`INSERT INTO ${SCHEMA}.notes (id, text) VALUES ($1, $2)`, [id, text]);
    await outbox.enqueue(client, {
      type: "NoteCreated",
      version: 1,
      key: id,
      destination: "notes",
      payload: { id, text },
    });
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK");
    throw error;
  } finally {
    client.release();
  }
  res.status(201).json({ id });
});

app.get("/projection", async (_req, res) => {
  const { rows } = await pool.query(`SELECT id, text, applied FROM ${SCHEMA}.note_projection ORDER BY id`);
  res.json({ count: rows.length, notes: rows });
});

app.get("/health", (_req, res) => {
  res.json({ status: transport.isConnected() ? "healthy" : "degraded" });
});

const server = app.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? "127.0.0.1", () => {
  logger.info({ address: server.address() }, "notes service listening");
});

// Graceful stop: no new requests, then finish in-flight messages, then close connections.
process.once("SIGTERM", () => {
  server.close();
  const stop = async () => {
    await consumer.stop();
    await relay.stop();
    await transport.close();
    await pool.end();
  };
  stop().then(
    () => logger.info("notes service stopped"),
    (error) => {
      logger.error({ err: error }, "stop failed");
      process.exitCode = 1;
    },
  );
});

/** @param {string} name */
function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}
