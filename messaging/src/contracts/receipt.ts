import { createHash } from "node:crypto";
import rhea, { type Message } from "rhea";
import { z } from "zod";
import { readBody } from "./body.js";
import { DUPLICATE_ID_PROPERTY, type TraceHeaders } from "./envelope.js";

/**
 * The delivery receipt: what a consumer sends back to the producer once it applied messages, and
 * what the producer reads to mark its outbox rows delivered. Both sides use this module, so the
 * format is written once.
 */

/** One acknowledged message: what the producer marks delivered. */
export interface Receipt {
  /** The message id the consumer applied (the producer's outbox id). */
  messageId: string;
  group: string;
  appliedAt: string;
}

/** A receipt message as read: its format version and every message it acknowledges. */
export interface ReceiptMessage {
  version: 1 | 2;
  group: string;
  receipts: Receipt[];
}

/** One applied message as a version 2 receipt names it. */
export interface AppliedReceiptEntry {
  messageId: string;
  aggregateId: string;
  /** How the consumer's inbox took it (e.g. applied, duplicate). */
  result: string;
}

/** JSON body of a receipt message (version 2): every message of one applied batch. */
export interface ReceiptBatchBody {
  /** The consumer group that applied the messages. */
  group: string;
  /** When the receipt was issued, right after the commit. */
  appliedAt: string;
  receipts: AppliedReceiptEntry[];
}

/** The receipt format version written (application property `version`); 1 was one message per receipt. */
export const RECEIPT_VERSION = 2;

/** Most messages one version 2 receipt may acknowledge (the receiver's RECEIVER_BATCH_SIZE maximum). */
export const MAX_RECEIPTS_PER_MESSAGE = 1000;

/**
 * The message ids are also written as application properties, at most this many per property:
 * Artemis' management listing cuts every value at 256 characters (management-message-attribute-
 * size-limit), and the producer's dead-letter view reads the ids from that listing (it cannot read
 * bodies). Six ids joined by commas take 221 characters.
 */
export const RECEIPT_IDS_PER_PROPERTY = 6;
export const RECEIPT_IDS_PROPERTY_PREFIX = "receipt_ids_";
const IDS_PROPERTY = new RegExp(`^${RECEIPT_IDS_PROPERTY_PREFIX}(\\d+)$`);

/** The body of the one receipt covering `applied`, in the order the messages were applied. */
export function buildReceiptBody(
  group: string,
  applied: readonly AppliedReceiptEntry[],
  now: Date,
): ReceiptBatchBody {
  return {
    group,
    appliedAt: now.toISOString(),
    receipts: applied.map(({ messageId, aggregateId, result }) => ({ messageId, aggregateId, result })),
  };
}

/**
 * The receipt's message id and duplicate id: `receipt:<group>:<sha256 of the sorted message ids>`.
 * The same batch sent again (the accept of its deliveries was lost, the broker redelivered them
 * together) gets the same id and the broker drops the copy; a batch of another composition is
 * another receipt, and marking a row delivered twice changes nothing on the producer.
 */
export function receiptId(group: string, messageIds: readonly string[]): string {
  const digest = createHash("sha256")
    .update(JSON.stringify([...new Set(messageIds)].sort()))
    .digest("hex");
  return `receipt:${group}:${digest}`;
}

/** `receipt_ids_0`, `receipt_ids_1`, …: the message ids, comma-separated, a few per property. */
export function receiptIdProperties(messageIds: readonly string[]): Record<string, string> {
  const properties: Record<string, string> = {};
  for (let i = 0; i * RECEIPT_IDS_PER_PROPERTY < messageIds.length; i += 1) {
    const chunk = messageIds.slice(i * RECEIPT_IDS_PER_PROPERTY, (i + 1) * RECEIPT_IDS_PER_PROPERTY);
    properties[`${RECEIPT_IDS_PROPERTY_PREFIX}${i}`] = chunk.join(",");
  }
  return properties;
}

/**
 * The AMQP message of a version 2 receipt: durable, `id` as message id and duplicate id (see
 * receiptId), the ids also in `receipt_ids_<n>` properties, the trace context of its send span.
 */
export function toReceiptAmqpMessage(id: string, body: ReceiptBatchBody, trace: TraceHeaders): Message {
  return {
    message_id: id,
    durable: true,
    subject: "DeliveryReceipt",
    content_type: "application/json",
    application_properties: {
      [DUPLICATE_ID_PROPERTY]: id,
      type: "DeliveryReceipt",
      version: RECEIPT_VERSION,
      ...receiptIdProperties(body.receipts.map((r) => r.messageId)),
      ...trace,
    },
    body: rhea.message.data_section(Buffer.from(JSON.stringify(body))) as unknown,
  };
}

const group = z.string().min(1).max(200);
const appliedAt = z.iso.datetime({ offset: true });

/** Version 1: one message per receipt (receivers before batch receipts; may still be queued). */
const receiptV1Schema = z.object({ messageId: z.uuid(), group, appliedAt });

/** Version 2: one receipt per applied batch. */
const receiptV2Schema = z.object({
  group,
  appliedAt,
  receipts: z
    .array(
      z.object({
        // Any string: a message of another producer (not an outbox id) matches no row, like an
        // unknown id, instead of making its batch neighbours' receipt unreadable.
        messageId: z.string().min(1).max(200),
        aggregateId: z.string().optional(),
        result: z.string().optional(),
      }),
    )
    .min(1)
    .max(MAX_RECEIPTS_PER_MESSAGE),
});

/**
 * Reads a receipt message of either version: application property `version` 2 is a batch
 * receipt, 1 (or none, as the first receivers sent) a single one. Undefined when unusable.
 */
export function parseReceiptMessage(message: Message): ReceiptMessage | undefined {
  const version = (message.application_properties as Record<string, unknown> | undefined)?.["version"];
  if (version !== undefined && version !== 1 && version !== 2) return undefined;
  const body = readBody(message.body);
  if (!body.ok || body.kind !== "text") return undefined;
  let json: unknown;
  try {
    json = JSON.parse(body.text);
  } catch {
    return undefined;
  }
  if (version === 2) {
    const parsed = receiptV2Schema.safeParse(json);
    if (!parsed.success) return undefined;
    const { group, appliedAt, receipts } = parsed.data;
    return {
      version: 2,
      group,
      receipts: receipts.map(({ messageId }) => ({ messageId, group, appliedAt })),
    };
  }
  const parsed = receiptV1Schema.safeParse(json);
  return parsed.success ? { version: 1, group: parsed.data.group, receipts: [parsed.data] } : undefined;
}

/**
 * The message ids a version 2 receipt names in its `receipt_ids_<n>` application properties, in
 * order, as the broker's management listing shows them (bodies are not listed there). Undefined
 * when there are none (a version 1 receipt names its row in its correlation id).
 */
export function receiptIdsFromProperties(
  properties: Readonly<Record<string, unknown>>,
): string[] | undefined {
  const chunks: Array<{ index: number; ids: string[] }> = [];
  for (const [key, value] of Object.entries(properties)) {
    const match = IDS_PROPERTY.exec(key);
    if (match === null || typeof value !== "string") continue;
    chunks.push({ index: Number(match[1]), ids: value.split(",").filter((id) => id !== "") });
  }
  if (chunks.length === 0) return undefined;
  return chunks.sort((a, b) => a.index - b.index).flatMap((c) => c.ids);
}
