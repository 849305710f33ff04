import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ArtemisResource, type AppBuilder, type DistributedApplication } from "@outbox/apphost";
import { buildApp } from "../apphost.js";
import { startTestApp, stopTestApp } from "@outbox/apphost/testing";
import { randomUUID } from "node:crypto";
import { artemisTransport, buildReceiptBody, receiptId } from "@outbox/messaging";
import { createLogger } from "@outbox/service-defaults";
import { adminFetch, useAdminTokens } from "./support/admin.js";
import { versionOneReceipt } from "./support/receipts.js";
import { connectToBroker, eventually, getJson, sendAndConfirm } from "./support/receiver.js";
import { postEntity, query } from "./support/system.js";

// Issue 11, defect 1: a delivery receipt the sender cannot record goes to DLQ.delivery-receipts
// after the broker's delivery attempts, and its outbox row stays `published`. The sender's own
// admin API must show such receipts with the row they acknowledge and replay them, and a replayed
// receipt must reach the sender although the broker's duplicate-id cache already holds its
// _AMQ_DUPL_ID (recorded when the receiver first sent it). Issue 13: a receipt (version 2)
// acknowledges every message of an applied batch; the view lists all its rows.

const BASE = "/api/outbox/receipt-dead-letters";
const CONSTRAINT = "test_no_delivery";

/** The repository's model (apphost.ts), with a small retry budget for receipts. */
function buildModel(): AppBuilder {
  const model = buildApp();
  const broker = model.resource("broker");
  if (!(broker instanceof ArtemisResource)) throw new Error("the model's broker is not Artemis");
  broker.withAddressSettings("delivery-receipts", { maxDeliveryAttempts: 2, redeliveryDelayMs: 100 });
  return model;
}

interface ReceiptDeadLetter {
  id: number;
  messageId: string | null;
  version: number | null;
  group: string | null;
  originalQueue: string | null;
  outboxMessages: Array<{ outboxMessageId: string; status: string | null }>;
}

interface Page {
  queue: string;
  count: number;
  items: ReceiptDeadLetter[];
}

let app: DistributedApplication;
let sender: string;
let ownerUrl: string;

beforeAll(async () => {
  app = await startTestApp({ model: buildModel() });
  useAdminTokens(app);
  sender = app.getEndpoint("sender");
  ownerUrl = app.getMigrationsConnectionString("senderdb");
});

afterEach(async () => {
  // Also when a test failed half-way: later tests need the sender to record receipts again.
  if (app === undefined) return;
  await query(ownerUrl, `ALTER TABLE outbox_messages DROP CONSTRAINT IF EXISTS ${CONSTRAINT}`);
});

afterAll(async () => {
  await stopTestApp(app);
});

/** From now on the sender's UPDATE to `delivered` fails (not transiently): receipts go dead. */
async function refuseDeliveries(): Promise<void> {
  // NOT VALID: rows already delivered stay; every new or updated row is checked.
  await query(
    ownerUrl,
    `ALTER TABLE outbox_messages ADD CONSTRAINT ${CONSTRAINT} CHECK (status <> 'delivered') NOT VALID`,
  );
}

async function allowDeliveries(): Promise<void> {
  await query(ownerUrl, `ALTER TABLE outbox_messages DROP CONSTRAINT ${CONSTRAINT}`);
}

async function outboxRow(aggregateId: string): Promise<{ id: string; status: string } | undefined> {
  const [row] = await query<{ id: string; status: string }>(
    app.getConnectionString("senderdb"),
    "SELECT id::text AS id, status FROM outbox_messages WHERE aggregate_id = $1",
    [aggregateId],
  );
  return row;
}

async function page(): Promise<Page> {
  const { status, body } = await getJson<Page>(`${sender}${BASE}?limit=200`);
  expect(status).toBe(200);
  return body;
}

async function dlqCount(): Promise<number> {
  const { status, body } = await getJson<{ count: number }>(`${sender}${BASE}/count`);
  expect(status).toBe(200);
  return body.count;
}

/**
 * Posts an entity (deliveries must be refused) and waits until its receipt is dead-lettered and
 * listed: the precondition of every scenario here.
 */
async function deadLetteredReceipt(name: string): Promise<{ outboxId: string; letter: ReceiptDeadLetter }> {
  const created = await postEntity(sender, { name });
  expect(created.status).toBe(201);
  const aggregateId = (created.body as { id: string }).id;
  const row = await eventually(`the outbox row of ${name}`, () => outboxRow(aggregateId));
  const letter = await eventually(
    `the receipt of ${name} in the receipt DLQ, its row published`,
    async () => {
      const found = (await page()).items.find((i) =>
        i.outboxMessages.some((m) => m.outboxMessageId === row.id),
      );
      return found?.outboxMessages[0]?.status === "published" ? found : undefined;
    },
  );
  // The receiver applied the message alone: a batch receipt of one row.
  expect(letter).toMatchObject({
    messageId: receiptId("receiver", [row.id]),
    version: 2,
    group: "receiver",
    originalQueue: "delivery-receipts",
    outboxMessages: [{ outboxMessageId: row.id, status: "published" }],
  });
  expect(await dlqCount()).toBeGreaterThanOrEqual(1);
  // The row did not become delivered: the receipt really was refused.
  expect((await outboxRow(aggregateId))?.status).toBe("published");
  return { outboxId: row.id, letter };
}

async function waitForDelivered(outboxId: string): Promise<void> {
  await eventually(`outbox row ${outboxId} delivered`, async () => {
    const [row] = await query<{ status: string }>(
      app.getConnectionString("senderdb"),
      "SELECT status FROM outbox_messages WHERE id = $1",
      [outboxId],
    );
    return row?.status === "delivered" ? true : undefined;
  });
}

async function waitForEmptyDlq(): Promise<void> {
  await eventually("the receipt DLQ empty", async () => ((await dlqCount()) === 0 ? true : undefined));
}

describe("the sender's receipt dead-letter queue (issue 11, defect 1)", () => {
  it("lists a receipt the sender could not record, and one replayed by id marks its row delivered", async () => {
    await refuseDeliveries();
    const { outboxId, letter } = await deadLetteredReceipt("receipt replayed by id");
    await allowDeliveries();

    const replay = await adminFetch(`${sender}${BASE}/${letter.id}/replay`, { method: "POST" });
    expect(replay.status).toBe(204);
    // Delivered although the broker had seen this receipt's _AMQ_DUPL_ID before.
    await waitForDelivered(outboxId);
    await waitForEmptyDlq();
    // Gone from the DLQ: replaying it again is a 404.
    const again = await adminFetch(`${sender}${BASE}/${letter.id}/replay`, { method: "POST" });
    expect(again.status).toBe(404);
  });

  it("replays every dead-lettered receipt at once", async () => {
    await refuseDeliveries();
    const first = await deadLetteredReceipt("receipt replayed with all (1)");
    const second = await deadLetteredReceipt("receipt replayed with all (2)");
    const before = await dlqCount();
    expect(before).toBeGreaterThanOrEqual(2);
    await allowDeliveries();

    const { status, body } = await getJson<{ replayed: number }>(`${sender}${BASE}/replay`, {
      method: "POST",
    });
    expect(status).toBe(200);
    expect(body.replayed).toBe(before);
    await waitForDelivered(first.outboxId);
    await waitForDelivered(second.outboxId);
    await waitForEmptyDlq();
  });

  it("deletes one receipt for good; its row stays published", async () => {
    await refuseDeliveries();
    const { outboxId, letter } = await deadLetteredReceipt("receipt deleted");
    const before = await dlqCount();

    const deleted = await adminFetch(`${sender}${BASE}/${letter.id}`, { method: "DELETE" });
    expect(deleted.status).toBe(204);
    expect(await dlqCount()).toBe(before - 1);
    expect((await page()).items.some((i) => i.id === letter.id)).toBe(false);
    const again = await adminFetch(`${sender}${BASE}/${letter.id}`, { method: "DELETE" });
    expect(again.status).toBe(404);

    await allowDeliveries();
    const [row] = await query<{ status: string }>(
      app.getConnectionString("senderdb"),
      "SELECT status FROM outbox_messages WHERE id = $1",
      [outboxId],
    );
    expect(row?.status).toBe("published");
  });

  it("answers 404 for an unknown id, 400 for a bad one, and 401 without the admin token", async () => {
    const unknown = Number.MAX_SAFE_INTEGER;
    expect((await adminFetch(`${sender}${BASE}/${unknown}/replay`, { method: "POST" })).status).toBe(404);
    expect((await adminFetch(`${sender}${BASE}/${unknown}`, { method: "DELETE" })).status).toBe(404);
    expect((await adminFetch(`${sender}${BASE}?limit=201`)).status).toBe(400);
    expect((await adminFetch(`${sender}${BASE}/-1/replay`, { method: "POST" })).status).toBe(400);

    for (const [method, path] of [
      ["GET", BASE],
      ["GET", `${BASE}/count`],
      ["POST", `${BASE}/replay`],
      ["POST", `${BASE}/1/replay`],
      ["DELETE", `${BASE}/1`],
    ] as const) {
      const response = await fetch(`${sender}${path}`, { method });
      expect(response.status, `${method} ${path}`).toBe(401);
    }
  });

  it("lists every row of a batch receipt and the row of a version 1 receipt, each with its current status", async () => {
    const senderDb = app.getConnectionString("senderdb");
    const batchIds = [randomUUID(), randomUUID(), randomUUID()];
    const v1Id = randomUUID();
    await query(
      senderDb,
      `INSERT INTO outbox_messages (id, aggregate_type, aggregate_id, type, version, destination, payload,
                                    status, published_at)
       SELECT id, 'EntityItem', id::text, 'EntityItemCreated', 1, 'entity-items', '{}'::jsonb, 'published', now()
         FROM unnest($1::uuid[]) AS id`,
      [[...batchIds, v1Id]],
    );
    await refuseDeliveries();
    const broker = await connectToBroker(app);
    const transport = artemisTransport({
      url: app.getConnectionString("broker"),
      containerId: `receipt-dead-letters-${randomUUID()}`,
      logger: createLogger("receipt-dead-letters-test", "error"),
    });
    transport.open();
    const publisher = transport.receiptPublisher({
      destination: "delivery-receipts",
      name: "receipts",
      sendTimeoutMs: 10_000,
    });
    publisher.start();
    try {
      // The receiver's publisher (the library's, as the inbox consumer sends it): one receipt for a
      // batch of three.
      const body = buildReceiptBody(
        "receiver",
        batchIds.map((id) => ({ messageId: id, aggregateId: id, result: "applied" })),
        new Date(),
      );
      expect(await publisher.publish(receiptId("receiver", batchIds), body, {})).toEqual({
        kind: "accepted",
      });
      // A version 1 receipt, as receivers before batch receipts sent them (left over after an upgrade).
      await sendAndConfirm(broker, "delivery-receipts", versionOneReceipt(v1Id));
    } finally {
      await publisher.close();
      await transport.close();
      broker.close();
    }
    const batchMessageId = receiptId("receiver", batchIds);
    const listed = await eventually("both receipts dead-lettered", async () => {
      const items = (await page()).items;
      const batch = items.find((i) => i.messageId === batchMessageId);
      const single = items.find((i) => i.messageId === `receipt:receiver:${v1Id}`);
      return batch !== undefined && single !== undefined ? { batch, single } : undefined;
    });
    expect(listed.batch).toMatchObject({
      version: 2,
      group: "receiver",
      originalQueue: "delivery-receipts",
      outboxMessages: batchIds.map((id) => ({ outboxMessageId: id, status: "published" })),
    });
    expect(listed.single).toMatchObject({
      version: 1,
      group: "receiver",
      outboxMessages: [{ outboxMessageId: v1Id, status: "published" }],
    });
    // Each row's own status: a row that is gone shows null, the others are unchanged.
    await query(senderDb, "DELETE FROM outbox_messages WHERE id = $1", [batchIds[2]]);
    const after = (await page()).items.find((i) => i.messageId === batchMessageId);
    expect(after?.outboxMessages.map((m) => m.status)).toEqual(["published", "published", null]);

    // Replayed once deliveries are allowed: both receipts mark their rows delivered.
    await allowDeliveries();
    for (const letter of [listed.batch, listed.single]) {
      expect((await adminFetch(`${sender}${BASE}/${letter.id}/replay`, { method: "POST" })).status).toBe(204);
    }
    for (const id of [batchIds[0]!, batchIds[1]!, v1Id]) await waitForDelivered(id);
  });
});
