import { createHash } from "node:crypto";
import type { IncomingEvent } from "../domain/events.js";
import type { ApplyResult } from "../domain/inbox.js";

/** A message whose transaction committed (or had committed before): what a receipt acknowledges. */
export interface AppliedMessage {
  event: IncomingEvent;
  result: ApplyResult;
}

/** The receipt format version (application property `version`); 1 was one message per receipt. */
export const RECEIPT_VERSION = 2;

/**
 * The outbox ids are also written as application properties, at most this many per property:
 * Artemis' management listing cuts every value at 256 characters (management-message-attribute-
 * size-limit), and the sender's dead-letter view reads the ids from that listing (it cannot read
 * bodies). Six ids joined by commas take 221 characters.
 */
export const RECEIPT_IDS_PER_PROPERTY = 6;
export const RECEIPT_IDS_PROPERTY_PREFIX = "receipt_ids_";

/** JSON body of a receipt message (version 2): every message of one applied batch. */
export interface ReceiptBatchBody {
  /** The consumer group that applied the messages. */
  group: string;
  /** When the receipt was issued, right after the commit. */
  appliedAt: string;
  receipts: Array<{ messageId: string; aggregateId: string; result: ApplyResult }>;
}

/** The body of the one receipt covering `applied`, in the order the messages were applied. */
export function buildReceiptBody(
  group: string,
  applied: readonly AppliedMessage[],
  now: Date,
): ReceiptBatchBody {
  return {
    group,
    appliedAt: now.toISOString(),
    receipts: applied.map(({ event, result }) => ({
      messageId: event.messageId,
      aggregateId: event.aggregateId,
      result,
    })),
  };
}

/**
 * The receipt's message id and `_AMQ_DUPL_ID`: `receipt:<group>:<sha256 of the sorted message
 * ids>`. The same batch sent again (the accept of its deliveries was lost, the broker redelivered
 * them together) gets the same id and the broker drops the copy; a batch of another composition is
 * another receipt, and marking a row delivered twice changes nothing on the sender.
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
