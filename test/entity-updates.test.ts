import { randomUUID } from "node:crypto";
import rhea from "rhea";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DistributedApplication } from "@outbox/apphost";
import { startTestApp, stopTestApp } from "@outbox/apphost/testing";
import { connectToBroker, eventually, sendAndConfirm } from "./support/receiver.js";
import { postEntity, query, type CreatedEntity } from "./support/system.js";

// PUT /api/EntityItems/{id}: a second event per aggregate, so per-aggregate order is observable
// end to end (sender API → outbox → relay → Artemis → receiver), against the real system.
let app: DistributedApplication;
let sender: string;

beforeAll(async () => {
  app = await startTestApp();
  sender = app.getEndpoint("sender");
});

afterAll(async () => {
  await stopTestApp(app);
});

interface Entity extends CreatedEntity {
  version: number;
  updatedAt: string | null;
}

async function put(
  id: string,
  body: unknown,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Headers; text: string }> {
  const response = await fetch(`${sender}/api/EntityItems/${id}`, {
    method: "PUT",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

async function create(name: string): Promise<Entity> {
  const response = await postEntity(sender, { name });
  expect(response.status).toBe(201);
  return response.body as Entity;
}

/** Applies `updates` updates to the entity one after another (each based on the previous ETag). */
async function updateInSequence(entity: Entity, updates: number): Promise<void> {
  for (let v = 1; v <= updates; v++) {
    const response = await put(entity.id, { name: `${entity.name} v${v + 1}` }, { "if-match": `"${v}"` });
    expect(response.status, response.text).toBe(200);
    expect(response.headers.get("etag")).toBe(`"${v + 1}"`);
  }
}

/** The versions the receiver applied to each entity, in the order it applied them. */
async function appliedVersions(ids: string[]): Promise<Map<string, number[]>> {
  const rows = await query<{ entity_id: string; version: number }>(
    app.getConnectionString("receiverdb"),
    "SELECT entity_id::text, version FROM received_item_versions WHERE entity_id = ANY($1::uuid[]) ORDER BY seq",
    [ids],
  );
  const byEntity = new Map<string, number[]>();
  for (const row of rows) byEntity.set(row.entity_id, [...(byEntity.get(row.entity_id) ?? []), row.version]);
  return byEntity;
}

describe("PUT /api/EntityItems/{id}", () => {
  it("updates with If-Match, answers the new ETag, and refuses stale, missing and unknown", async () => {
    const entity = await create("put-basic");
    expect(entity.version).toBe(1);
    expect(entity.updatedAt).toBeNull();
    const get = await fetch(`${sender}/api/EntityItems/${entity.id}`);
    expect(get.headers.get("etag")).toBe('"1"');

    const updated = await put(
      entity.id,
      { name: "put-basic renamed", description: "d" },
      { "if-match": '"1"' },
    );
    expect(updated.status).toBe(200);
    expect(JSON.parse(updated.text)).toMatchObject({
      name: "put-basic renamed",
      description: "d",
      version: 2,
    });

    const stale = await put(entity.id, { name: "lost update" }, { "if-match": '"1"' });
    expect(stale.status).toBe(412);
    expect(stale.headers.get("content-type")).toMatch(/application\/problem\+json/);
    expect((await put(entity.id, { name: "no precondition" }, {})).status).toBe(428);
    expect((await put(entity.id, { name: "bad etag" }, { "if-match": "2" })).status).toBe(400);
    expect((await put(randomUUID(), { name: "nobody" }, { "if-match": '"1"' })).status).toBe(404);

    // Only the successful update wrote an event.
    const events = await query<{ type: string }>(
      app.getConnectionString("senderdb"),
      "SELECT type FROM outbox_messages WHERE aggregate_id = $1 ORDER BY seq",
      [entity.id],
    );
    expect(events.map((e) => e.type)).toEqual(["EntityItemCreated", "EntityItemUpdated"]);
  });

  it("applies every version once, in order, for 20 entities updated concurrently", async () => {
    const entities = await Promise.all(Array.from({ length: 20 }, (_, i) => create(`put-order-${i}`)));
    const ids = entities.map((e) => e.id);
    // Entities in parallel, each one's updates in sequence (If-Match chains them).
    await Promise.all(entities.map((e) => updateInSequence(e, 5)));

    const applied = await eventually("every entity at version 6 on the receiver", async () => {
      const versions = await appliedVersions(ids);
      return [...versions.values()].filter((v) => v.at(-1) === 6).length === ids.length
        ? versions
        : undefined;
    });
    for (const id of ids) expect(applied.get(id), id).toEqual([1, 2, 3, 4, 5, 6]);

    const received = await query<{ version: number; name: string }>(
      app.getConnectionString("receiverdb"),
      "SELECT version, name FROM received_items WHERE id = ANY($1::uuid[])",
      [ids],
    );
    expect(received.every((r) => r.version === 6 && r.name.endsWith(" v6"))).toBe(true);
    // The audit group saw every event once too.
    const audit = await query<{ n: number }>(
      app.getConnectionString("receiverdb"),
      "SELECT count(*)::int AS n FROM audit_log WHERE aggregate_id = ANY($1::text[])",
      [ids],
    );
    expect(audit[0]?.n).toBe(120);
    // Nothing arrived out of order (no fault was injected), and nothing needed a retry.
    const gaps = await query<{ n: number }>(
      app.getConnectionString("receiverdb"),
      "SELECT count(*)::int AS n FROM delivery_failures WHERE error LIKE '%version gap%'",
    );
    expect(gaps[0]?.n).toBe(0);
    // Every outbox row of these entities ends delivered (the receiver's receipts came back).
    await eventually("every outbox row delivered", async () => {
      const rows = await query<{ status: string; n: number }>(
        app.getConnectionString("senderdb"),
        "SELECT status, count(*)::int AS n FROM outbox_messages WHERE aggregate_id = ANY($1::text[]) GROUP BY status",
        [ids],
      );
      return rows.length === 1 && rows[0]?.status === "delivered" && rows[0].n === 120 ? true : undefined;
    });
  });

  it("replays a PUT with the same Idempotency-Key byte for byte instead of answering 412", async () => {
    const entity = await create("put-idempotent");
    const key = `put-${randomUUID()}`;
    const first = await put(
      entity.id,
      { name: "put-idempotent v2" },
      { "if-match": '"1"', "idempotency-key": key },
    );
    expect(first.status).toBe(200);
    const retry = await put(
      entity.id,
      { name: "put-idempotent v2" },
      { "if-match": '"1"', "idempotency-key": key },
    );
    expect(retry.status).toBe(200);
    expect(retry.text).toBe(first.text);
    expect(retry.headers.get("etag")).toBe('"2"');
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    const other = await put(
      entity.id,
      { name: "something else" },
      { "if-match": '"1"', "idempotency-key": key },
    );
    expect(other.status).toBe(422);
    const rows = await query<{ n: number }>(
      app.getConnectionString("senderdb"),
      "SELECT count(*)::int AS n FROM outbox_messages WHERE aggregate_id = $1 AND type = 'EntityItemUpdated'",
      [entity.id],
    );
    expect(rows[0]?.n).toBe(1);
  });

  it("has the audit group hold back an update that overtook its predecessor, then log both in order", async () => {
    const entity = await create("audit-overtake");
    const receiverDb = app.getConnectionString("receiverdb");
    const auditVersions = async () =>
      (
        await query<{ aggregate_version: number; message_id: string }>(
          receiverDb,
          "SELECT aggregate_version, message_id FROM audit_log WHERE aggregate_id = $1 ORDER BY position",
          [entity.id],
        )
      ).map((r) => r.aggregate_version);
    await eventually("the creation in the audit log", async () =>
      (await auditVersions()).length === 1 ? true : undefined,
    );

    // Version 3 reaches the audit group's queue before version 2 exists: what a redelivery after a
    // consumer's death can do to two updates of one aggregate.
    const overtaking = randomUUID();
    const payload = {
      id: entity.id,
      name: "v3",
      description: null,
      version: 3,
      updatedAt: new Date().toISOString(),
    };
    const broker = await connectToBroker(app);
    try {
      await sendAndConfirm(broker, "entity-items.audit", {
        message_id: overtaking,
        subject: "EntityItemUpdated",
        group_id: entity.id,
        content_type: "application/json",
        application_properties: { type: "EntityItemUpdated", version: 1, aggregate_id: entity.id },
        body: rhea.message.data_section(Buffer.from(JSON.stringify(payload))) as unknown,
      });
    } finally {
      broker.close();
    }
    // Precondition: it was refused as a version gap and not logged.
    await eventually("the overtaking update refused as a version gap", async () => {
      const refused = await query<{ n: number }>(
        receiverDb,
        `SELECT count(*)::int AS n FROM delivery_failures
          WHERE message_id = $1 AND consumer_group = 'audit' AND error LIKE 'version gap%'`,
        [overtaking],
      );
      return (refused[0]?.n ?? 0) > 0 ? true : undefined;
    });
    expect(await auditVersions()).toEqual([1]);

    // Version 2 through the API: the audit group logs it, then the redelivered version 3 after it.
    expect((await put(entity.id, { name: "v2" }, { "if-match": '"1"' })).status).toBe(200);
    await eventually("versions 1, 2, 3 in the audit log", async () =>
      (await auditVersions()).length === 3 ? true : undefined,
    );
    expect(await auditVersions()).toEqual([1, 2, 3]);
    const last = await query<{ message_id: string }>(
      receiverDb,
      "SELECT message_id FROM audit_log WHERE aggregate_id = $1 AND aggregate_version = 3",
      [entity.id],
    );
    expect(last[0]?.message_id).toBe(overtaking);
  });
});
