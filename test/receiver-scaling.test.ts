import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Connection } from "rhea";
import {
  ArtemisResource,
  PostgresDatabaseResource,
  subscriptionQueueName,
  type DistributedApplication,
} from "@outbox/apphost";
import { buildApp } from "../apphost.js";
import { startTestApp, stopTestApp } from "@outbox/apphost/testing";
import {
  connectToBroker,
  count,
  entityItemCreatedMessage,
  eventually,
  getJson,
  sendAndConfirm,
} from "./support/receiver.js";
import { appliedCounts, postEntities, waitForApplied, waitForSettled } from "./support/system.js";

// Two instances of the receiver on the same consumer-group queue (competing consumers).
let app: DistributedApplication;
let sender: string;
let broker: Connection;

beforeAll(async () => {
  const model = buildApp();
  const receiverDb = model.resource("receiverdb");
  const artemis = model.resource("broker");
  if (!(receiverDb instanceof PostgresDatabaseResource) || !(artemis instanceof ArtemisResource)) {
    throw new Error("the AppHost model changed: receiverdb / broker not found");
  }
  model
    .addNodeService("receiver-2", "receiver-service")
    .withReference(receiverDb)
    .withReference(artemis)
    .waitFor(receiverDb)
    .waitFor(artemis)
    // A second deployment of the same service: the first one's migrations step applies the schema,
    // and this one (runtime role only) refuses to start until it is there.
    .waitFor(model.resource("receiver"))
    // Its own broker user gets exactly these rights, as the first receiver's does (app.ts).
    .withEnvironment(
      "RECEIVER_QUEUE",
      artemis.consumes(subscriptionQueueName("entity-items", "receiver"), { deadLetters: true }),
    )
    .withEnvironment("RECEIVER_GROUP", "receiver")
    .withEnvironment(
      "AUDIT_QUEUE",
      artemis.consumes(subscriptionQueueName("entity-items", "audit"), { deadLetters: true }),
    )
    .withEnvironment("RECEIPTS_ADDRESS", artemis.sendsTo("delivery-receipts"))
    .withHttpEndpoint()
    .withHttpHealthCheck("/health");
  app = await startTestApp({ model });
  sender = app.getEndpoint("sender");
  broker = await connectToBroker(app);
});

afterAll(async () => {
  broker?.close();
  await stopTestApp(app);
});

async function processed(instance: string): Promise<Record<string, number>> {
  const { body } = await getJson<{ checks: Record<string, { data?: Record<string, number> }> }>(
    `${app.getEndpoint(instance)}/health`,
  );
  return body.checks["broker"]?.data ?? {};
}

describe("two receiver instances", () => {
  it("share the work and apply every message exactly once", async () => {
    const created = await postEntities(sender, 200, "two-receivers");
    const ids = created.map((e) => e.id);
    expect((await waitForApplied(app, ids)).size).toBe(200);
    await waitForSettled(app, ids);
    const final = await appliedCounts(app, ids);
    expect([...final].filter(([, n]) => n !== 1)).toEqual([]);
    // Both instances did part of it (Artemis spreads message groups over consumers).
    const [one, two] = await Promise.all([processed("receiver"), processed("receiver-2")]);
    expect((one.processed ?? 0) + (two.processed ?? 0)).toBeGreaterThanOrEqual(200);
    expect(one.processed ?? 0).toBeGreaterThan(0);
    expect(two.processed ?? 0).toBeGreaterThan(0);
    // And the audit group (also running in both) logged each once.
    const audited = await eventually("the audit log to hold all 200", async () => {
      const n = await count(
        app.getConnectionString("receiverdb"),
        "SELECT count(*) FROM audit_log WHERE aggregate_id = ANY($1)",
        [ids],
      );
      return n >= 200 ? n : undefined;
    });
    expect(audited).toBe(200);
  });

  it("never applies twice nor fails when both instances get the same message at the same time", async () => {
    // The same message id under different group ids and duplicate-detection ids: nothing pins the
    // copies to one consumer, so both instances race on the same inbox key.
    const entities = Array.from({ length: 20 }, (_, i) => ({
      id: randomUUID(),
      name: `race-${i}`,
      description: null,
      createdAt: new Date().toISOString(),
    }));
    const sends: Promise<void>[] = [];
    for (const entity of entities) {
      const messageId = randomUUID();
      for (let copy = 0; copy < 4; copy++) {
        const message = entityItemCreatedMessage(entity, { messageId, duplicateId: randomUUID() });
        message.group_id = `${entity.id}-${copy}`;
        sends.push(sendAndConfirm(broker, "entity-items.receiver", message));
      }
    }
    await Promise.all(sends);
    const ids = entities.map((e) => e.id);
    expect((await waitForApplied(app, ids)).size).toBe(20);
    const receiverDb = app.getConnectionString("receiverdb");
    await eventually("all 80 copies settled", async () => {
      const [a, b] = await Promise.all([processed("receiver"), processed("receiver-2")]);
      const settled = (a.duplicates ?? 0) + (b.duplicates ?? 0);
      return settled >= 60 ? true : undefined;
    });
    expect([...(await appliedCounts(app, ids)).values()].every((n) => n === 1)).toBe(true);
    expect(await count(receiverDb, "SELECT count(*) FROM inbox WHERE aggregate_id = ANY($1)", [ids])).toBe(
      20,
    );
    // No copy was rejected or dead-lettered because of the race.
    expect(
      await count(receiverDb, "SELECT count(*) FROM delivery_failures WHERE error LIKE '%duplicate key%'"),
    ).toBe(0);
  });
});
