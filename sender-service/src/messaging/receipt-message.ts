import type { Message } from "rhea";
import { z } from "zod";

/** One acknowledged outbox row: what the sender marks delivered. */
export interface Receipt {
  /** The outbox id the receiver applied (its AMQP message id). */
  messageId: string;
  group: string;
  appliedAt: string;
}

/** A receipt message as read: its format version and every row it acknowledges. */
export interface ReceiptMessage {
  version: 1 | 2;
  group: string;
  receipts: Receipt[];
}

/** Most rows one version 2 receipt may acknowledge (the receiver's RECEIVER_BATCH_SIZE maximum). */
export const MAX_RECEIPTS_PER_MESSAGE = 1000;

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

const DATA_SECTION = 0x75;

/** The JSON text of a body given as a data section, a Buffer or a string. */
function bodyText(body: unknown): string | undefined {
  if (typeof body === "string") return body;
  if (Buffer.isBuffer(body)) return body.toString("utf8");
  if (typeof body === "object" && body !== null) {
    const section = body as { typecode?: unknown; content?: unknown };
    if (section.typecode === DATA_SECTION && Buffer.isBuffer(section.content)) {
      return section.content.toString("utf8");
    }
  }
  return undefined;
}

/**
 * Reads a receipt message of either version: application property `version` 2 is a batch
 * receipt, 1 (or none, as the first receivers sent) a single one. Undefined when unusable.
 */
export function parseReceiptMessage(message: Message): ReceiptMessage | undefined {
  const version = (message.application_properties as Record<string, unknown> | undefined)?.["version"];
  if (version !== undefined && version !== 1 && version !== 2) return undefined;
  const text = bodyText(message.body);
  if (text === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
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

/** The receipt_ids_<n> application properties' prefix (receiver-service/src/messaging/receipt-batch.ts). */
const IDS_PROPERTY = /^receipt_ids_(\d+)$/;

/**
 * The outbox ids a version 2 receipt names in its `receipt_ids_<n>` application properties, in
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
