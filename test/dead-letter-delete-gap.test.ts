import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Connection, Message } from "rhea";
import type pg from "pg";
import type { DistributedApplication } from "@outbox/apphost";
import { startTestApp, stopTestApp } from "@outbox/apphost/testing";
import { createDatabase, createPool } from "../receiver-service/src/data/db.js";
import { deadLetterApplyState } from "../receiver-service/src/data/queries.js";
import { adminFetch, useAdminTokens } from "./support/admin.js";
import {
  connectToBroker,
  deadLetters,
  entityItemCreatedMessage,
  entityItemUpdatedMessage,
  eventually,
  sendAndConfirm,
} from "./support/receiver.js";
import { query } from "./support/system.js";

// Issue 18, "no silent wedge" at the receiver: deleting a dead-lettered entity version a consumer
// group has not applied would make every later version of that entity a version gap in that group
// forever. DELETE refuses it (409, replay instead); poison and duplicates stay deletable.

const AUDIT_QUEUE = "entity-items.audit";
const RECEIVER_QUEUE = "entity-items.receiver";

let app: DistributedApplication;
let receiver: string;
let receiverDb: string;
let broker: Connection;
let pool: pg.Pool | undefined;

beforeAll(async () => {
  app = await startTestApp();
  useAdminTokens(app);
  receiver = app.getEndpoint("receiver");
  receiverDb = app.getConnectionString("receiverdb");
  broker = await connectToBroker(app);
});

afterAll(async () => {
  broker?.close();
  await pool?.end();
  await stopTestApp(app);
});

function entity(): { id: string; name: string; description: string | null; createdAt: string } {
  return { id: randomUUID(), name: "widget", description: null, createdAt: new Date().toISOString() };
}

/** The audit group's highest logged version of an aggregate (0: none). */
async function auditVersion(aggregateId: string): Promise<number> {
  const [row] = await query<{ v: number | null }>(
    receiverDb,
    "SELECT max(aggregate_version) AS v FROM audit_log WHERE aggregate_id = $1",
    [aggregateId],
  );
  return Number(row?.v ?? 0);
}

async function waitForAuditVersion(aggregateId: string, version: number): Promise<void> {
  await eventually(`audit log of ${aggregateId} at version ${version}`, async () =>
    (await auditVersion(aggregateId)) === version ? true : undefined,
  );
}

function deleteDeadLetter(id: number, group: string): Promise<Response> {
  return adminFetch(`${receiver}/api/DeadLetters/${id}?group=${group}`, { method: "DELETE" });
}

describe("DELETE of a dead letter that would leave a version gap", () => {
  it("refuses an unapplied update (replay applies it), deletes poison and duplicates", async () => {
    const gapped = entity();
    const duplicated = entity();
    const updateOf = (e: typeof gapped, version: number, messageId = randomUUID()): Message =>
      entityItemUpdatedMessage({ id: e.id, name: `v${version}`, description: null }, version, { messageId });

    // Both entities at version 1 in the audit group, straight to its queue.
    await sendAndConfirm(broker, AUDIT_QUEUE, entityItemCreatedMessage(gapped));
    await sendAndConfirm(broker, AUDIT_QUEUE, entityItemCreatedMessage(duplicated));
    await waitForAuditVersion(gapped.id, 1);
    await waitForAuditVersion(duplicated.id, 1);

    // Version 3 before 2: refused as a version gap until the group's attempts are used up.
    const gapId = randomUUID();
    const duplicateId = randomUUID();
    await sendAndConfirm(broker, AUDIT_QUEUE, updateOf(gapped, 3, gapId));
    await sendAndConfirm(broker, AUDIT_QUEUE, updateOf(duplicated, 3, duplicateId));
    // And a poison message (not JSON) that names an entity type and aggregate in its properties.
    const poisonId = randomUUID();
    await sendAndConfirm(
      broker,
      AUDIT_QUEUE,
      entityItemCreatedMessage(entity(), { messageId: poisonId, body: "{not json" }),
    );
    const letters = await eventually(
      "the two gapped updates and the poison message in the audit DLQ",
      async () => {
        const view = await deadLetters(receiver, "audit");
        const byId = (id: string) => view.items.find((i) => i.messageId === id);
        const [gap, duplicate, poison] = [byId(gapId), byId(duplicateId), byId(poisonId)];
        return gap && duplicate && poison?.failureKind === "poison" ? { gap, duplicate, poison } : undefined;
      },
      180_000,
    );
    expect(letters.gap.reason).toMatch(/^version gap/);

    // The missing version 2 arrives: the group is at 2, and the dead-lettered 3 is the next one.
    await sendAndConfirm(broker, AUDIT_QUEUE, updateOf(gapped, 2));
    await sendAndConfirm(broker, AUDIT_QUEUE, updateOf(duplicated, 2));
    await waitForAuditVersion(gapped.id, 2);
    await waitForAuditVersion(duplicated.id, 2);
    // A copy of the other version 3 (same message id, another duplicate-id so the broker keeps it)
    // is applied: its dead-lettered twin is now a duplicate.
    const copy = updateOf(duplicated, 3, duplicateId);
    copy.application_properties = { ...copy.application_properties, _AMQ_DUPL_ID: randomUUID() };
    await sendAndConfirm(broker, AUDIT_QUEUE, copy);
    await waitForAuditVersion(duplicated.id, 3);

    // (a) The unapplied version 3: refused, named, and still in the DLQ.
    const refused = await deleteDeadLetter(letters.gap.id, "audit");
    expect(refused.status).toBe(409);
    expect(refused.headers.get("content-type")).toContain("application/problem+json");
    const problem = (await refused.json()) as Record<string, unknown>;
    expect(problem).toMatchObject({
      status: 409,
      title: "Deleting would leave a version gap",
      group: "audit",
      aggregateId: gapped.id,
      messageId: gapId,
      eventType: "EntityItemUpdated",
      appliedVersion: 2,
      replay: `/api/DeadLetters/${letters.gap.id}/replay?group=audit`,
    });
    expect(String(problem.detail)).toContain(`consumer group audit`);
    expect(String(problem.detail)).toContain(gapped.id);
    expect(String(problem.detail)).toContain("Replay it instead");
    expect(String(problem.detail)).toContain("waits for version 3");
    expect((await deadLetters(receiver, "audit")).items.some((i) => i.id === letters.gap.id)).toBe(true);

    // Replay instead: applied on top of 2.
    const replay = await adminFetch(`${receiver}/api/DeadLetters/${letters.gap.id}/replay?group=audit`, {
      method: "POST",
    });
    expect(replay.status).toBe(204);
    await waitForAuditVersion(gapped.id, 3);
    const [logged] = await query<{ message_id: string }>(
      receiverDb,
      "SELECT message_id FROM audit_log WHERE aggregate_id = $1 AND aggregate_version = 3",
      [gapped.id],
    );
    expect(logged?.message_id).toBe(gapId);

    // (b) Poison: deletable as before.
    expect((await deleteDeadLetter(letters.poison.id, "audit")).status).toBe(204);
    // (c) A duplicate of a version the group applied: deletable.
    expect((await deleteDeadLetter(letters.duplicate.id, "audit")).status).toBe(204);
    const after = await deadLetters(receiver, "audit");
    expect(after.items.some((i) => i.id === letters.poison.id || i.id === letters.duplicate.id)).toBe(false);
    // An id that is not there is still 404.
    expect((await deleteDeadLetter(letters.poison.id, "audit")).status).toBe(404);
  }, 300_000);

  it("reads the receiver group's applied state from its inbox and, once pruned, its effect rows", async () => {
    pool = createPool({ url: receiverDb, max: 2, onIdleError: () => {} });
    const db = createDatabase(pool);
    const item = entity();
    const createdId = randomUUID();
    const updateId = randomUUID();
    await sendAndConfirm(broker, RECEIVER_QUEUE, entityItemCreatedMessage(item, { messageId: createdId }));
    await sendAndConfirm(
      broker,
      RECEIVER_QUEUE,
      entityItemUpdatedMessage({ id: item.id, name: "v2", description: null }, 2, { messageId: updateId }),
    );
    await eventually("the entity copy at version 2", async () => {
      const [row] = await query<{ version: number }>(
        receiverDb,
        "SELECT version FROM received_items WHERE id = $1",
        [item.id],
      );
      return row?.version === 2 ? true : undefined;
    });
    const state = (messageId: string, aggregateId = item.id) =>
      deadLetterApplyState(db, { projection: "entity-copy", group: "receiver", aggregateId, messageId });

    expect(await state(updateId)).toEqual({ applied: true, appliedVersion: 2, lastFailureKind: undefined });
    expect(await state(randomUUID())).toEqual({
      applied: false,
      appliedVersion: 2,
      lastFailureKind: undefined,
    });
    expect(await state(randomUUID(), randomUUID())).toEqual({
      applied: false,
      appliedVersion: undefined,
      lastFailureKind: undefined,
    });
    // The inbox retention removes inbox rows; the effect rows still say both were applied.
    await query(
      app.getMigrationsConnectionString("receiverdb"),
      "DELETE FROM inbox WHERE message_id = ANY($1)",
      [[createdId, updateId]],
    );
    expect((await state(createdId)).applied).toBe(true);
    expect((await state(updateId)).applied).toBe(true);
  }, 120_000);
});
