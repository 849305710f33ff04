import rhea from "rhea";
import type { Message } from "rhea";

/**
 * A version 1 delivery receipt (one message per receipt), as receivers before batch receipts sent
 * it: such receipts may still sit in the receipts queue or its DLQ after an upgrade.
 */
export function versionOneReceipt(outboxId: string, group = "receiver"): Message {
  const id = `receipt:${group}:${outboxId}`;
  return {
    message_id: id,
    correlation_id: outboxId,
    durable: true,
    subject: "DeliveryReceipt",
    application_properties: { _AMQ_DUPL_ID: id, type: "DeliveryReceipt", version: 1 },
    body: rhea.message.data_section(
      Buffer.from(
        JSON.stringify({
          messageId: outboxId,
          group,
          aggregateId: outboxId,
          appliedAt: new Date().toISOString(),
          result: "applied",
        }),
      ),
    ) as unknown,
  };
}
