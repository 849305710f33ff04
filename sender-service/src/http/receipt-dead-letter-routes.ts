import {
  brokerUnavailableResponse,
  deadLetterIdParams,
  deadLetterLimitParameter,
  expectDeadLetter,
  problemResponseSchema,
  unavailableWhenBrokerIsDown,
  type DeadLetter,
  type DeadLetterQueue,
  type ServiceHost,
} from "@outbox/service-defaults";
import { z } from "zod";
import type { Database } from "../data/db.js";
import { outboxStatuses } from "../data/outbox-statuses.js";
import { outboxStatuses as statusNames } from "../data/schema.js";
import { receiptIdsFromProperties } from "@outbox/messaging";

const TAG = "ReceiptDeadLetters";
const BASE = "/api/outbox/receipt-dead-letters";

const acknowledgedSchema = z
  .object({
    outboxMessageId: z.string(),
    status: z
      .enum(statusNames)
      .nullable()
      .meta({ description: "Current status of that outbox row; null when the row is gone" }),
  })
  .meta({ id: "ReceiptAcknowledgedRow" });

const receiptDeadLetterSchema = z
  .object({
    id: z.number().int().meta({ description: "Broker id of the receipt in the dead-letter queue" }),
    messageId: z.string().nullable().meta({ description: "The receipt's own message id" }),
    version: z
      .number()
      .int()
      .nullable()
      .meta({ description: "Receipt format: 1 = one row per receipt, 2 = every row of an applied batch" }),
    group: z.string().nullable().meta({ description: "Consumer group that applied the messages" }),
    originalQueue: z.string().nullable().meta({ description: "Queue the receipt was dead-lettered from" }),
    outboxMessages: z.array(acknowledgedSchema).meta({
      description:
        "Every outbox row the receipt acknowledges (version 1: its correlation id; version 2: its receipt_ids_<n> properties), with its current status",
    }),
  })
  .meta({ id: "ReceiptDeadLetter" });

const pageSchema = z
  .object({
    queue: z.string(),
    count: z.number().int().meta({ description: "Receipts in the dead-letter queue (may exceed items)" }),
    items: z.array(receiptDeadLetterSchema),
  })
  .meta({ id: "ReceiptDeadLetterPage" });

const unavailable = {
  ...brokerUnavailableResponse,
  description: "The broker or the database cannot be reached; retry later",
};
const notFound = { description: "No such receipt in the dead-letter queue", schema: problemResponseSchema };

/**
 * The receiver names its receipts `receipt:<group>:<outbox id>` (version 1) or
 * `receipt:<group>:<sha256 of the batch's ids>` (version 2, the receipt contract of @outbox/messaging).
 */
export function receiptGroup(messageId: string | undefined): string | undefined {
  const match = /^receipt:(.+):[^:]+$/.exec(messageId ?? "");
  return match?.[1];
}

/** The outbox ids a dead-lettered receipt acknowledges, of either receipt version. */
export function acknowledgedIds(letter: Pick<DeadLetter, "correlationId" | "properties">): string[] {
  return (
    receiptIdsFromProperties(letter.properties) ??
    (letter.correlationId === undefined ? [] : [letter.correlationId])
  );
}

/**
 * Delivery receipts the sender could not record (e.g. the UPDATE to `delivered` kept failing)
 * end in the receipts queue's dead-letter queue, and their outbox rows stay `published`. These
 * routes let an operator see them, with the rows each one acknowledges, and move them back to the
 * receipts queue (the broker's retryMessage: not dropped by the duplicate-id cache) or delete them.
 */
export function registerReceiptDeadLetterRoutes(
  host: ServiceHost,
  deps: { db: Database; dlq: DeadLetterQueue },
): void {
  const { db, dlq } = deps;

  const view = async (letters: DeadLetter[]) => {
    const ids = letters.map(acknowledgedIds);
    const statuses = await outboxStatuses(db, ids.flat());
    return letters.map((l, i) => ({
      id: l.id,
      messageId: l.messageId ?? null,
      version: l.version ?? null,
      group: receiptGroup(l.messageId) ?? null,
      originalQueue: l.originalQueue ?? null,
      outboxMessages: (ids[i] ?? []).map((id) => ({
        outboxMessageId: id,
        status: statuses.get(id.toLowerCase()) ?? null,
      })),
    }));
  };

  host.route({
    method: "get",
    path: BASE,
    operationId: "listReceiptDeadLetters",
    summary:
      "Browse the dead-lettered delivery receipts (oldest first) with the status of every row they acknowledge",
    tags: [TAG],
    request: { query: z.object({ limit: deadLetterLimitParameter }) },
    responses: { 200: { description: "Dead-lettered receipts", schema: pageSchema }, 503: unavailable },
    handler: async ({ query, res }) => {
      const [count, letters] = await Promise.all([dlq.count(), dlq.browse(query.limit)]).catch(
        unavailableWhenBrokerIsDown,
      );
      res.json({ queue: dlq.queue, count, items: await view(letters) });
    },
  });

  host.route({
    method: "get",
    path: `${BASE}/count`,
    operationId: "countReceiptDeadLetters",
    summary: "How many delivery receipts the dead-letter queue holds",
    tags: [TAG],
    responses: {
      200: { description: "The count", schema: z.object({ queue: z.string(), count: z.number().int() }) },
      503: brokerUnavailableResponse,
    },
    handler: async ({ res }) => {
      res.json({ queue: dlq.queue, count: await dlq.count().catch(unavailableWhenBrokerIsDown) });
    },
  });

  host.route({
    method: "post",
    path: `${BASE}/:id/replay`,
    operationId: "replayReceiptDeadLetter",
    summary: "Move one receipt back to the receipts queue (atomically, inside the broker)",
    tags: [TAG],
    request: { params: deadLetterIdParams },
    responses: { 204: { description: "Replayed" }, 404: notFound, 503: brokerUnavailableResponse },
    handler: async ({ params, res }) => {
      expectDeadLetter(await dlq.replay(params.id).catch(unavailableWhenBrokerIsDown), params.id, dlq.queue);
      res.status(204).end();
    },
  });

  host.route({
    method: "post",
    path: `${BASE}/replay`,
    operationId: "replayAllReceiptDeadLetters",
    summary: "Move every dead-lettered receipt back to the receipts queue",
    tags: [TAG],
    responses: {
      200: { description: "How many were replayed", schema: z.object({ replayed: z.number().int() }) },
      503: brokerUnavailableResponse,
    },
    handler: async ({ res }) => {
      res.json({ replayed: await dlq.replayAll().catch(unavailableWhenBrokerIsDown) });
    },
  });

  host.route({
    method: "delete",
    path: `${BASE}/:id`,
    operationId: "deleteReceiptDeadLetter",
    summary: "Delete one dead-lettered receipt for good (its outbox row stays as it is)",
    tags: [TAG],
    request: { params: deadLetterIdParams },
    responses: { 204: { description: "Deleted" }, 404: notFound, 503: brokerUnavailableResponse },
    handler: async ({ params, res }) => {
      expectDeadLetter(await dlq.remove(params.id).catch(unavailableWhenBrokerIsDown), params.id, dlq.queue);
      res.status(204).end();
    },
  });
}
