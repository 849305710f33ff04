import { toAmqpEnvelope } from "@outbox/messaging";
import type { Message } from "rhea";
import type { ClaimedOutboxMessage } from "../data/outbox.js";
import type { OutboxHeaders } from "../data/schema.js";

/**
 * The AMQP message for an outbox row: the event envelope of @outbox/messaging (the receiver reads
 * exactly that), with message id and duplicate id = outbox id, message group = aggregate id
 * (unless the row is sent outside order), the JSON payload, priority and scheduled delivery.
 *
 * `trace` replaces the row's stored trace context (the relay passes its PRODUCER span's context,
 * so the consumer's span is a child of the publish, itself a child of the HTTP request).
 */
export function toAmqpMessage(
  row: Omit<ClaimedOutboxMessage, "claimToken" | "ordered"> & { ordered?: boolean },
  trace: OutboxHeaders = row.headers,
): Message {
  return toAmqpEnvelope({
    id: row.id,
    type: row.type,
    version: row.version,
    aggregateId: row.aggregateId,
    payload: row.payload,
    createdAt: row.createdAt,
    ordered: row.ordered !== false,
    priority: row.priority,
    deliverAt: row.deliverAt,
    trace,
  });
}
