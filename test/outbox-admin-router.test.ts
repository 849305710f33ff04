import type { AddressInfo } from "node:net";
import { once } from "node:events";
import type { Server } from "node:http";
import { drizzle } from "drizzle-orm/node-postgres";
import express from "express";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp, type DistributedApplication } from "@outbox/apphost";
import { startTestApp, stopTestApp } from "@outbox/apphost/testing";
import { createOutbox, outboxAdminRouter } from "@outbox/messaging";

// @outbox/messaging's outbox admin router on a plain Express app (not a ServiceHost), over real
// PostgreSQL and an outbox in its own schema and prefix: list the dead rows, retry one.
const outbox = createOutbox({ schema: "ops_app", tablePrefix: "ops_" });

let app: DistributedApplication | undefined;
let pool: pg.Pool | undefined;
let server: Server | undefined;
let baseUrl = "";

beforeAll(async () => {
  const model = createApp({ name: "outbox-admin-router" });
  model.addPostgres("admin-pg").addDatabase("opsdb");
  app = await startTestApp({ model });
  pool = new pg.Pool({ connectionString: app.getMigrationsConnectionString("opsdb"), max: 4 });
  await outbox.migrate(pool);
  const web = express();
  // Where an app's own admin authentication would go: the router brings none.
  web.use("/ops", outboxAdminRouter({ outbox, db: drizzle({ client: pool }), basePath: "/outbox" }));
  server = web.listen(0, "127.0.0.1");
  await once(server, "listening");
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ops/outbox`;
});

afterAll(async () => {
  if (server !== undefined) await new Promise((resolve) => server?.close(resolve));
  await pool?.end();
  await stopTestApp(app);
});

/** Enqueues one message in its own transaction and marks it dead, as the relay would. */
async function deadMessage(db: pg.Pool): Promise<string> {
  const client = await db.connect();
  try {
    await client.query("BEGIN");
    const id = await outbox.enqueue(client, {
      type: "NoteChanged",
      key: "note-1",
      destination: "notes",
      payload: { n: 1 },
    });
    await client.query(
      `update ${outbox.names.messagesTable} set status = 'dead', attempts = 3, last_error = 'refused'
        where id = $1`,
      [id],
    );
    await client.query("COMMIT");
    return id;
  } finally {
    client.release();
  }
}

describe("outboxAdminRouter on a plain Express app", () => {
  it("lists a dead message and retries it: pending again, announced to the relays", async () => {
    if (pool === undefined) throw new Error("PostgreSQL did not start");
    const id = await deadMessage(pool);

    const listed = await fetch(`${baseUrl}/messages?status=dead`);
    expect(listed.status).toBe(200);
    const page = (await listed.json()) as { total: number; items: Array<{ id: string; status: string }> };
    expect(page.total).toBe(1);
    expect(page.items.map((m) => [m.id, m.status])).toEqual([[id, "dead"]]);

    // The relays wake on the outbox's NOTIFY channel: the retry must announce the row there.
    const listener = await pool.connect();
    try {
      await listener.query(`listen "${outbox.names.notifyChannel}"`);
      const notified = once(listener, "notification") as Promise<[pg.Notification]>;
      const retried = await fetch(`${baseUrl}/messages/${id}/retry`, { method: "POST" });
      expect(retried.status).toBe(204);
      const [notification] = await notified;
      expect(notification.payload).toBe("notes");
    } finally {
      await listener.query("unlisten *").catch(() => undefined);
      listener.release();
    }

    const detail = (await (await fetch(`${baseUrl}/messages/${id}`)).json()) as {
      status: string;
      attempts: number;
      history: Array<{ outcome: string; actor: string }>;
    };
    expect(detail.status).toBe("pending");
    expect(detail.attempts).toBe(0);
    expect(detail.history.at(-1)).toMatchObject({ outcome: "retried-by-operator", actor: "admin" });

    // No longer dead: a second retry is a 409 problem, and the id is checked (400) before any query.
    const again = await fetch(`${baseUrl}/messages/${id}/retry`, { method: "POST" });
    expect(again.status).toBe(409);
    expect(again.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect((await fetch(`${baseUrl}/messages/not-a-uuid`)).status).toBe(400);
    const stats = (await (await fetch(`${baseUrl}/stats`)).json()) as { counts: Record<string, number> };
    expect(stats.counts).toMatchObject({ pending: 1, dead: 0 });
  });
});
