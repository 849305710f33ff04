import type { OutgoingEnvelope } from "../contracts/envelope.js";
import type { ClaimedOutboxMessage } from "./relay-statements.js";
import type { OutboxHeaders } from "./tables.js";

/**
 * The envelope the relay publishes for a claimed row: id (also the deduplication id), type,
 * version, ordering key (unless the row is sent outside order), payload, priority, scheduled
 * delivery. How it looks on the wire is the transport's business (contracts/envelope.ts for AMQP).
 *
 * `trace` replaces the row's stored trace context (the relay passes its PRODUCER span's context,
 * so the consumer's span is a child of the publish, itself a child of the write).
 */
export function toOutgoingEnvelope(
  row: Omit<ClaimedOutboxMessage, "claimToken" | "ordered"> & { ordered?: boolean },
  trace: OutboxHeaders = row.headers,
): OutgoingEnvelope {
  return {
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
  };
}
