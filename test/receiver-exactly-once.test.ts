import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Connection } from "rhea";
import type { DistributedApplication } from "@outbox/apphost";
import { startTestApp, stopTestApp } from "@outbox/apphost/testing";
import { adminFetch, useAdminTokens } from "./support/admin.js";
import {
  connectToBroker,
  count,
  deadLetters,
  entityItemCreatedMessage,
  entityItemUpdatedMessage,
  eventually,
  getJson,
  sendAndConfirm,
} from "./support/receiver.js";
import {
  appliedCounts,
  killDuringStream,
  postEntities,
  postEntity,
  query,
  type CreatedEntity,
  waitForApplied,
  waitForSettled,
} from "./support/system.js";

// The receiver's guarantees against the real system (AppHost model: topic entity-items with the
// consumer groups "receiver" and "audit", PostgreSQL, Artemis).
let app: DistributedApplication;
let sender: string;
let receiver: string;
let receiverDb: string;
let broker: Connection;

beforeAll(async () => {
  app = await startTestApp();
  sender = app.getEndpoint("sender");
  receiver = app.getEndpoint("receiver");
  useAdminTokens(app);
  receiverDb = app.getConnectionString("receiverdb");
  broker = await connectToBroker(app);
});

afterAll(async () => {
  broker?.close();
  await stopTestApp(app);
});

async function consumerCounters(): Promise<Record<string, number>> {
  const { body } = await getJson<{ checks: Record<string, { data?: Record<string, number> }> }>(
    `${receiver}/health`,
  );
  return body.checks["broker"]?.data ?? {};
}

async function createOne(name: string): Promise<CreatedEntity> {
  const response = await postEntity(sender, { name, description: null });
  expect(response.status).toBe(201);
  return response.body as CreatedEntity;
}

/** DDL needs the database owner (the services' own role can only read and write rows). */
function receiverOwnerDb(): string {
  return app.getMigrationsConnectionString("receiverdb");
}

describe("exactly once", () => {
  it("applies a message delivered twice (a resend with another duplicate-detection id) once", async () => {
    const entity = await createOne("twice");
    await waitForApplied(app, [entity.id]);
    const [row] = await query<{ message_id: string }>(
      receiverDb,
      "SELECT message_id FROM received_items WHERE id = $1",
      [entity.id],
    );
    const messageId = row!.message_id;
    const before = (await consumerCounters()).duplicates ?? 0;

    // The broker's duplicate cache would drop a resend with the same _AMQ_DUPL_ID, so give it
    // another one: the receiver's inbox is what must catch it.
    await sendAndConfirm(
      broker,
      "entity-items.receiver",
      entityItemCreatedMessage(entity, { messageId, duplicateId: randomUUID() }),
    );
    await eventually("the redelivery to be seen as a duplicate", async () =>
      ((await consumerCounters()).duplicates ?? 0) > before ? true : undefined,
    );
    expect(await count(receiverDb, "SELECT count(*) FROM inbox WHERE message_id = $1", [messageId])).toBe(1);
    expect(await count(receiverDb, "SELECT count(*) FROM received_items WHERE id = $1", [entity.id])).toBe(1);
  });

  it("fans out to both consumer groups, each applying every message once", async () => {
    const created = await postEntities(sender, 30, "fan-out");
    const ids = created.map((e) => e.id);
    await waitForApplied(app, ids);
    const audit = await eventually("the audit group to log all 30", async () => {
      const rows = await query<{ aggregate_id: string; n: string }>(
        receiverDb,
        "SELECT aggregate_id, count(*)::text AS n FROM audit_log WHERE aggregate_id = ANY($1) GROUP BY aggregate_id",
        [ids],
      );
      return rows.length === ids.length ? rows : undefined;
    });
    expect(audit.every((r) => r.n === "1")).toBe(true);
    const applied = await appliedCounts(app, ids);
    expect([...applied.values()].every((n) => n === 1)).toBe(true);
  });
});

describe("ordering", () => {
  it("applies the messages of one aggregate in the order they were sent", async () => {
    // 8 aggregates x 10 versions (the creation, then 9 updates), interleaved across aggregates,
    // each message its own id: both groups apply every one, in the order sent per aggregate.
    const aggregates = Array.from({ length: 8 }, (_, a) => ({
      id: randomUUID(),
      name: `ordered-${a}`,
      description: null,
      createdAt: new Date().toISOString(),
    }));
    const sent = new Map<string, string[]>(aggregates.map((a) => [a.id, []]));
    for (let version = 1; version <= 10; version++) {
      await Promise.all(
        aggregates.map(async (aggregate) => {
          const message =
            version === 1
              ? entityItemCreatedMessage(aggregate)
              : entityItemUpdatedMessage(aggregate, version);
          sent.get(aggregate.id)!.push(String(message.message_id));
          await sendAndConfirm(broker, "entity-items", message);
        }),
      );
    }
    const ids = aggregates.map((a) => a.id);
    const logged = await eventually("all 80 messages in the audit log", async () => {
      const rows = await query<{ aggregate_id: string; message_id: string }>(
        receiverDb,
        "SELECT aggregate_id, message_id FROM audit_log WHERE aggregate_id = ANY($1) ORDER BY position",
        [ids],
      );
      return rows.length === 80 ? rows : undefined;
    });
    const versions = await eventually("the receiver group to apply all 80", async () => {
      const rows = await query<{ entity_id: string; message_id: string }>(
        receiverDb,
        "SELECT entity_id::text, message_id FROM received_item_versions WHERE entity_id = ANY($1::uuid[]) ORDER BY seq",
        [ids],
      );
      return rows.length === 80 ? rows : undefined;
    });
    for (const aggregate of aggregates) {
      const inAudit = logged.filter((r) => r.aggregate_id === aggregate.id).map((r) => r.message_id);
      const inReceiver = versions.filter((r) => r.entity_id === aggregate.id).map((r) => r.message_id);
      expect(inAudit).toEqual(sent.get(aggregate.id));
      expect(inReceiver).toEqual(sent.get(aggregate.id));
    }
    // In order as delivered: no message reached a group before its predecessor (the version
    // check, which would have refused and retried it, never had to act).
    const allSent = [...sent.values()].flat();
    expect(
      await count(receiverDb, "SELECT count(*) FROM delivery_failures WHERE message_id = ANY($1)", [allSent]),
    ).toBe(0);
  });
});

describe("poison and dead letters", () => {
  it("dead-letters poison (bad JSON, unknown version) with its reason while the others flow", async () => {
    const badJson = entityItemCreatedMessage(
      { id: randomUUID(), name: "x", description: null, createdAt: new Date().toISOString() },
      { body: "{not json" },
    );
    const unknownVersion = entityItemCreatedMessage(
      { id: randomUUID(), name: "x", description: null, createdAt: new Date().toISOString() },
      { version: 9 },
    );
    await sendAndConfirm(broker, "entity-items", badJson);
    const flowing = postEntities(sender, 20, "next-to-poison");
    await sendAndConfirm(broker, "entity-items", unknownVersion);
    const ids = (await flowing).map((e) => e.id);
    expect((await waitForApplied(app, ids)).size).toBe(20);

    const dlq = await eventually(
      "both poison messages in the receiver's DLQ with their reasons",
      async () => {
        const view = await deadLetters(receiver);
        const byId = new Map(view.items.map((i) => [i.messageId, i]));
        const json = byId.get(String(badJson.message_id));
        const version = byId.get(String(unknownVersion.message_id));
        return json?.reason && version?.reason ? { view, json, version } : undefined;
      },
    );
    expect(dlq.view.queue).toBe("DLQ.entity-items.receiver");
    expect(dlq.json).toMatchObject({
      failureKind: "poison",
      attempts: 1,
      originalQueue: "entity-items.receiver",
      type: "EntityItemCreated",
    });
    expect(dlq.json.reason).toMatch(/not valid JSON/);
    expect(dlq.version.reason).toMatch(/unknown event version EntityItemCreated@9/);
    // The audit group dead-letters them into its own DLQ, independently.
    const audit = await eventually("the audit DLQ to hold them", async () => {
      const view = await deadLetters(receiver, "audit");
      return view.count >= 2 ? view : undefined;
    });
    expect(audit.queue).toBe("DLQ.entity-items.audit");

    // Browsing does not consume: the count is unchanged, and deleting takes one out for good.
    const again = await deadLetters(receiver);
    expect(again.count).toBe(dlq.view.count);
    const deleted = await adminFetch(`${receiver}/api/DeadLetters/${dlq.json.id}`, { method: "DELETE" });
    expect(deleted.status).toBe(204);
    const missing = await adminFetch(`${receiver}/api/DeadLetters/${dlq.json.id}`, { method: "DELETE" });
    expect(missing.status).toBe(404);
    expect((await deadLetters(receiver)).count).toBe(dlq.view.count - 1);

    // Replay all: the unknown version is still unknown, so it comes back, rejected a second time.
    const replayed = await getJson<{ replayed: number }>(`${receiver}/api/DeadLetters/replay`, {
      method: "POST",
    });
    expect(replayed.body.replayed).toBe(dlq.view.count - 1);
    await eventually("the unknown version rejected again and back in the DLQ", async () => {
      const failures = await count(
        receiverDb,
        "SELECT count(*) FROM delivery_failures WHERE message_id = $1 AND consumer_group = 'receiver'",
        [String(unknownVersion.message_id)],
      );
      const view = await deadLetters(receiver);
      return failures === 2 && view.items.some((i) => i.messageId === String(unknownVersion.message_id))
        ? true
        : undefined;
    });
  });

  it("replays a dead letter after its cause is fixed and applies it exactly once", async () => {
    // The cause: the receiver's database refuses this entity (a data rule, so poison at once).
    await query(
      receiverOwnerDb(),
      "ALTER TABLE received_items ADD CONSTRAINT test_refuse_poison CHECK (name <> 'refuse-me') NOT VALID",
    );
    let entity: CreatedEntity;
    try {
      entity = await createOne("refuse-me");
      const letter = await eventually("the refused message in the DLQ", async () => {
        const view = await deadLetters(receiver);
        return view.items.find((i) => i.reason?.includes("test_refuse_poison"));
      });
      expect(letter.failureKind).toBe("poison");
      expect((await appliedCounts(app, [entity.id])).size).toBe(0);

      // Fix the cause, then replay.
      await query(receiverOwnerDb(), "ALTER TABLE received_items DROP CONSTRAINT test_refuse_poison");
      const replay = await adminFetch(`${receiver}/api/DeadLetters/${letter.id}/replay`, { method: "POST" });
      expect(replay.status).toBe(204);
      // The same dead letter cannot be replayed twice: it left the DLQ with the replay.
      const twice = await adminFetch(`${receiver}/api/DeadLetters/${letter.id}/replay`, { method: "POST" });
      expect(twice.status).toBe(404);
    } finally {
      await query(
        receiverOwnerDb(),
        "ALTER TABLE received_items DROP CONSTRAINT IF EXISTS test_refuse_poison",
      );
    }
    const applied = await waitForApplied(app, [entity.id]);
    expect(applied.get(entity.id)).toBe(1);
    await waitForSettled(app, [entity.id]);
    expect((await appliedCounts(app, [entity.id])).get(entity.id)).toBe(1);
    // The audit group was never affected: it logged the message once, at the first delivery.
    expect(
      await count(receiverDb, "SELECT count(*) FROM audit_log WHERE aggregate_id = $1", [entity.id]),
    ).toBe(1);
  });
});

describe("receiver crash", () => {
  it("loses nothing and applies nothing twice in either group, and every row gets its receipt", async () => {
    const { ids, appliedAtKill } = await killDuringStream(app, "receiver", "receiver-sigkill");
    // Precondition: the kill hit the stream, with part of it applied and part still to come.
    expect(appliedAtKill, "applied when the receiver was killed").toBeGreaterThan(0);
    expect(appliedAtKill, "applied when the receiver was killed").toBeLessThan(ids.length);
    await app.startResource("receiver");
    await app.waitForHealthy("receiver");
    receiver = app.getEndpoint("receiver");
    expect((await waitForApplied(app, ids)).size).toBe(ids.length);
    await eventually("the audit group to log them all", async () =>
      (await count(receiverDb, "SELECT count(*) FROM audit_log WHERE aggregate_id = ANY($1)", [ids])) >=
      ids.length
        ? true
        : undefined,
    );
    await eventually("every outbox row delivered", async () =>
      (await count(
        app.getConnectionString("senderdb"),
        "SELECT count(*) FROM outbox_messages WHERE aggregate_id = ANY($1) AND status = 'delivered'",
        [ids],
      )) === ids.length
        ? true
        : undefined,
    );
    await waitForSettled(app, ids);
    expect([...(await appliedCounts(app, ids)).values()].every((n) => n === 1)).toBe(true);
    expect(
      await count(receiverDb, "SELECT count(*) FROM audit_log WHERE aggregate_id = ANY($1)", [ids]),
    ).toBe(ids.length);
  });
});

describe("the dead-letter API", () => {
  it("is in the receiver's OpenAPI document", async () => {
    const { body } = await getJson<{ paths: Record<string, unknown> }>(`${receiver}/openapi.json`);
    expect(Object.keys(body.paths)).toEqual(
      expect.arrayContaining([
        "/api/DeadLetters",
        "/api/DeadLetters/count",
        "/api/DeadLetters/{id}/replay",
        "/api/DeadLetters/replay",
        "/api/DeadLetters/{id}",
      ]),
    );
  });
});

describe("receiver database outage", () => {
  it("retries while the database is down and applies everything once it is back, dead-lettering nothing", async () => {
    const dlqBefore = (await deadLetters(receiver)).count;
    await app.stopResource("receiver-pg");
    try {
      const created = await postEntities(sender, 30, "receiver-db-down");
      const ids = created.map((e) => e.id);
      // Let the receiver meet the outage: deliveries fail, are modified and wait for redelivery.
      await eventually("a transient failure while the database is down", async () => {
        const counters = await consumerCounters().catch(() => undefined);
        return counters !== undefined && (counters.failed ?? 0) > 0 ? true : undefined;
      });
      await app.startResource("receiver-pg");
      await app.waitForHealthy("receiver");
      const applied = await waitForApplied(app, ids, 120_000);
      expect(applied.size).toBe(30);
      await waitForSettled(app, ids);
      expect([...(await appliedCounts(app, ids)).values()].every((n) => n === 1)).toBe(true);
      expect((await deadLetters(receiver)).count).toBe(dlqBefore);
      // The failures were recorded once the database answered again.
      const { body } = await getJson<{ items: Array<{ kind: string }> }>(
        `${receiver}/api/DeliveryFailures?pageSize=200`,
      );
      expect(body.items.some((f) => f.kind === "transient")).toBe(true);
    } finally {
      await app.startResource("receiver-pg");
    }
  });
});
