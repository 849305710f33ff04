import {
  deadLetterRoutes,
  receiptIdsFromProperties,
  type DeadLetter,
  type DeadLetterOperations,
} from "@outbox/messaging";
import type { ServiceHost } from "@outbox/service-defaults";
import { z } from "zod";
import type { Database } from "../data/db.js";
import { outboxStatuses } from "../data/outbox-statuses.js";
import { outboxStatuses as statusNames } from "../data/schema.js";

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
 * routes (the dead-letter routes of @outbox/messaging) let an operator see them, with the rows each
 * one acknowledges, and move them back to the receipts queue (the broker's retryMessage: not
 * dropped by the duplicate-id cache) or delete them.
 */
export function registerReceiptDeadLetterRoutes(
  host: ServiceHost,
  deps: { db: Database; dlq: DeadLetterOperations },
): void {
  const { db, dlq } = deps;
  const routes = deadLetterRoutes({
    basePath: "/api/outbox/receipt-dead-letters",
    source: { queue: dlq },
    docs: {
      tag: "ReceiptDeadLetters",
      pageSchemaId: "ReceiptDeadLetterPage",
      listed: "Dead-lettered receipts",
      listedCount: "Receipts in the dead-letter queue (may exceed items)",
      notFound: "No such receipt in the dead-letter queue",
      listUnavailable: "The broker or the database cannot be reached; retry later",
      operationIds: {
        list: "listReceiptDeadLetters",
        count: "countReceiptDeadLetters",
        replay: "replayReceiptDeadLetter",
        replayAll: "replayAllReceiptDeadLetters",
        delete: "deleteReceiptDeadLetter",
      },
      summaries: {
        list: "Browse the dead-lettered delivery receipts (oldest first) with the status of every row they acknowledge",
        count: "How many delivery receipts the dead-letter queue holds",
        replay: "Move one receipt back to the receipts queue (atomically, inside the broker)",
        replayAll: "Move every dead-lettered receipt back to the receipts queue",
        delete: "Delete one dead-lettered receipt for good (its outbox row stays as it is)",
      },
    },
    items: { schema: receiptDeadLetterSchema, describe: (letters) => withRowStatuses(db, letters) },
  });
  for (const route of routes) host.route(route);
}

/** The listed receipts with the current status of every outbox row each one acknowledges. */
async function withRowStatuses(
  db: Database,
  letters: DeadLetter[],
): Promise<z.infer<typeof receiptDeadLetterSchema>[]> {
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
}
