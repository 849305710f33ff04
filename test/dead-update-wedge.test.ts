import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DistributedApplication } from "@outbox/apphost";
import { startTestApp, stopTestApp } from "@outbox/apphost/testing";
import type pg from "pg";
import { MessagingMonitor } from "../apphost/src/dashboard/contributions/outbox-messaging/messaging-monitor.js";
import type { Database } from "../sender-service/src/data/db.js";
import { updateEntityItemIn } from "../sender-service/src/domain/update-entity-item.js";
import { adminFetch, useAdminTokens } from "./support/admin.js";
import { openDatabase } from "./support/relay-harness.js";
import { deadLetters, eventually, getJson } from "./support/receiver.js";
import { postEntity, query, waitForSettled, type CreatedEntity } from "./support/system.js";

// Issue 18, item 4: an update the broker keeps refusing must not wedge its entity. Its successors
// wait at the sender while it is dead (the receivers never see a version gap), the admin API shows
// the blocked aggregate and refuses the one action that would make the entity undeliverable for
// good (DELETE), and a retry releases the aggregate: every version arrives, in order, in both
// consumer groups. Runs on the repository's own model with the sender's default configuration.
let app: DistributedApplication;
let sender: string;
let receiver: string;
let db: Database;
let pool: pg.Pool;

beforeAll(async () => {
  app = await startTestApp();
  useAdminTokens(app);
  sender = app.getEndpoint("sender");
  receiver = app.getEndpoint("receiver");
  ({ db, pool } = openDatabase(app.getConnectionString("senderdb")));
});

afterAll(async () => {
  await pool?.end();
  await stopTestApp(app);
});

type OutboxRow = {
  id: string;
  version: number;
  status: string;
  locked_by: string | null;
  attempts: number;
};

/** The entity's outbox rows in publish order, with the aggregate version each one carries. */
async function outboxRows(entityId: string): Promise<OutboxRow[]> {
  const rows = await db.execute<OutboxRow>(sql`
    select id, coalesce((payload->>'version')::int, 1) as version, status, locked_by, attempts
      from outbox_messages where aggregate_id = ${entityId} order by seq`);
  return rows.rows;
}

/** The versions each consumer group applied to the entity, in the order it applied them. */
async function appliedVersions(entityId: string): Promise<{ receiver: number[]; audit: number[] }> {
  const url = app.getConnectionString("receiverdb");
  const receiverRows = await query<{ version: number }>(
    url,
    "SELECT version FROM received_item_versions WHERE entity_id = $1 ORDER BY seq",
    [entityId],
  );
  const auditRows = await query<{ aggregate_version: number }>(
    url,
    "SELECT aggregate_version FROM audit_log WHERE aggregate_id = $1 ORDER BY position",
    [entityId],
  );
  return { receiver: receiverRows.map((r) => r.version), audit: auditRows.map((r) => r.aggregate_version) };
}

async function deadLettersOf(ids: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const group of ["receiver", "audit"]) {
    const { items } = await deadLetters(receiver, group);
    for (const item of items)
      if (item.messageId !== null && ids.includes(item.messageId)) found.push(`${group}:${item.messageId}`);
  }
  return found;
}

interface BlockedPage {
  total: number;
  items: Array<{
    aggregateId: string;
    destination: string;
    deadMessage: { id: string; version: number; lastError: string | null };
    waiting: number;
    blockedSince: string;
  }>;
}

async function blocked(): Promise<BlockedPage> {
  const { status, body } = await getJson<BlockedPage>(`${sender}/api/outbox/blocked`);
  expect(status).toBe(200);
  return body;
}

describe("an update the broker refused until it went dead", () => {
  it("holds its successors at the sender, refuses DELETE, and a retry delivers every version in order", async () => {
    const created = await postEntity(sender, { name: "wedge v1" });
    expect(created.status).toBe(201);
    const entity = created.body as CreatedEntity;
    await eventually("v1 applied by both groups", async () => {
      const applied = await appliedVersions(entity.id);
      return applied.receiver.length === 1 && applied.audit.length === 1 ? applied : undefined;
    });

    // Updates v2, v3, v4 written by the sender's own use case (what PUT runs), and v2 left as the
    // relay leaves a message the broker refused OUTBOX_MAX_ATTEMPTS times (scheduleRetry: dead, its
    // refusals and the move to dead in its history), all in one transaction so that no relay ever
    // sees v2 pending. How a refusal makes a row dead is proven against Artemis in
    // relay-guarantees.test.ts; this test is about what happens to the aggregate afterwards.
    const outboxAddress = app.environmentOf("sender")?.OUTBOX_ADDRESS ?? "entity-items";
    await db.transaction(async (tx) => {
      for (let version = 1; version <= 3; version++) {
        const result = await updateEntityItemIn(tx, { outboxAddress }, entity.id, version, {
          name: `wedge v${version + 1}`,
        });
        expect(result.kind).toBe("updated");
      }
      await tx.execute(sql`
        with v2 as (
          update outbox_messages
             set status = 'dead', attempts = 10, last_error = 'rejected by broker: AMQ229102 (test)'
           where aggregate_id = ${entity.id} and payload->>'version' = '2'
          returning id
        )
        insert into outbox_attempts (message_id, outcome, attempts, error, actor)
        select id, outcome, 10, 'rejected by broker: AMQ229102 (test)', 'relay-test'
          from v2, (values ('rejected'), ('dead')) as o(outcome)`);
    });
    const rows = await outboxRows(entity.id);
    expect(rows.map((r) => r.version)).toEqual([1, 2, 3, 4]);
    const [v1, v2, v3, v4] = rows as [OutboxRow, OutboxRow, OutboxRow, OutboxRow];
    expect(v2.status).toBe("dead");

    // A later entity, committed after the updates: once both groups applied it, the relay has run
    // claims that would have taken v3 (smaller seq, same address) if it were claimable.
    const marker = await postEntity(sender, { name: "wedge marker" });
    expect(marker.status).toBe(201);
    const markerId = (marker.body as CreatedEntity).id;
    await eventually("the marker applied by both groups", async () => {
      const applied = await appliedVersions(markerId);
      return applied.receiver.length === 1 && applied.audit.length === 1 ? true : undefined;
    });

    // Precondition: v2 dead, v3 and v4 held at the sender (pending, never claimed or refused), not
    // on either group's queue, the receivers at v1, nothing dead-lettered as a version gap.
    expect((await outboxRows(entity.id)).map((r) => [r.version, r.status, r.locked_by, r.attempts])).toEqual([
      [1, v1.status, null, 0],
      [2, "dead", null, 10],
      [3, "pending", null, 0],
      [4, "pending", null, 0],
    ]);
    // Both group queues empty (nothing ready, nothing out for delivery) once the marker settled.
    await waitForSettled(app, [markerId]);
    expect(await appliedVersions(entity.id)).toEqual({ receiver: [1], audit: [1] });
    expect(await deadLettersOf([v2.id, v3.id, v4.id])).toEqual([]);

    // The operator sees it: the admin route (behind the admin token like the rest of the outbox
    // API), the stats, and the dashboard's messaging monitor.
    expect((await fetch(`${sender}/api/outbox/blocked`)).status).toBe(401);
    const listed = (await blocked()).items.filter((b) => b.aggregateId === entity.id);
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({
      destination: outboxAddress,
      deadMessage: { id: v2.id, version: 1, lastError: "rejected by broker: AMQ229102 (test)" },
      waiting: 2,
    });
    expect(Number.isNaN(Date.parse(listed[0]!.blockedSince))).toBe(false);
    const stats = await getJson<{ blockedAggregates: number }>(`${sender}/api/outbox/stats`);
    expect(stats.body.blockedAggregates).toBe(1);
    const monitorAbort = new AbortController();
    const monitor = new MessagingMonitor({
      resources: () => app.snapshot(),
      adminToken: (resource) => app.environmentOf(resource)?.ADMIN_TOKEN,
      signal: monitorAbort.signal,
    });
    await monitor.sampleNow();
    const sampled = monitor.snapshot().find((s) => s.resource === "sender")?.blocked;
    expect(sampled?.total).toBe(1);
    expect(sampled?.items.map((b) => [b.aggregateId, b.deadMessage.id, b.waiting])).toEqual([
      [entity.id, v2.id, 2],
    ]);

    // DELETE would leave the receivers a gap they never get past: refused, with what to do instead.
    const refused = await adminFetch(`${sender}/api/outbox/messages/${v2.id}`, { method: "DELETE" });
    expect(refused.status).toBe(409);
    expect(refused.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    const problem = (await refused.json()) as Record<string, unknown>;
    expect(problem).toMatchObject({
      status: 409,
      title: "Deleting would leave a version gap",
      aggregateId: entity.id,
      waiting: 2,
      retry: `/api/outbox/messages/${v2.id}/retry`,
    });
    expect(problem.detail).toMatch(/retry/i);
    expect((await outboxRows(entity.id))[1]?.status).toBe("dead");

    // The retry releases the aggregate: v2, v3, v4 in order to both groups, nothing dead-lettered.
    const retried = await getJson(`${sender}/api/outbox/messages/${v2.id}/retry`, { method: "POST" });
    expect(retried.status).toBe(204);
    const applied = await eventually("v2..v4 applied by both groups", async () => {
      const versions = await appliedVersions(entity.id);
      return versions.receiver.length === 4 && versions.audit.length === 4 ? versions : undefined;
    });
    expect(applied).toEqual({ receiver: [1, 2, 3, 4], audit: [1, 2, 3, 4] });
    await waitForSettled(app, [entity.id]);
    expect((await outboxRows(entity.id)).map((r) => r.status)).toEqual([
      "delivered",
      "delivered",
      "delivered",
      "delivered",
    ]);
    expect(await deadLettersOf([v2.id, v3.id, v4.id])).toEqual([]);
    expect((await blocked()).items.filter((b) => b.aggregateId === entity.id)).toEqual([]);
    await monitor.sampleNow();
    expect(monitor.snapshot().find((s) => s.resource === "sender")?.blocked?.total).toBe(0);
    monitorAbort.abort();
  });
});
