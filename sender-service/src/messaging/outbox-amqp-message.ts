import rhea from "rhea";
import type { Message } from "rhea";
import type { ClaimedOutboxMessage } from "../data/outbox.js";
import type { OutboxHeaders } from "../data/schema.js";

/**
 * The AMQP message for an outbox row, exactly as the message contract says (the receiver parses
 * exactly this):
 * - message_id and the string application property `_AMQ_DUPL_ID` = outbox id, so that Artemis
 *   drops a resend of a message it already has (resends happen whenever an outcome is unknown);
 * - group_id = aggregate id (unless the row is sent outside order), subject/type/version = the event, durable so that `accepted`
 *   means "on disk";
 * - the JSON payload as a data section (opaque bytes, content_type says how to read them);
 * - priority (AMQP header) and, for scheduled rows, the annotation `x-opt-delivery-time` as epoch
 *   milliseconds — a NUMBER: Artemis ignores an AMQP timestamp (what rhea makes of a Date) there.
 *
 * `trace` replaces the row's stored trace context (the relay passes its PRODUCER span's context,
 * so the consumer's span is a child of the publish, itself a child of the HTTP request).
 */
export function toAmqpMessage(
  row: Omit<ClaimedOutboxMessage, "claimToken" | "ordered"> & { ordered?: boolean },
  trace: OutboxHeaders = row.headers,
): Message {
  const applicationProperties: Record<string, unknown> = {
    _AMQ_DUPL_ID: row.id,
    type: row.type,
    // Explicitly an AMQP int: rhea would encode a positive JS number as uint.
    version: rhea.types.wrap_int(row.version),
    aggregate_id: row.aggregateId,
  };
  if (trace.traceparent) applicationProperties.traceparent = trace.traceparent;
  if (trace.tracestate) applicationProperties.tracestate = trace.tracestate;

  const message: Message = {
    message_id: row.id,
    durable: true,
    subject: row.type,
    // No group for a message outside per-aggregate order (scheduled/prioritised: ordered false).
    ...(row.ordered === false ? {} : { group_id: row.aggregateId }),
    content_type: "application/json",
    creation_time: row.createdAt,
    application_properties: applicationProperties,
    body: rhea.message.data_section(Buffer.from(JSON.stringify(row.payload), "utf8")) as unknown,
  };
  if (row.priority !== 4) message.priority = row.priority;
  if (row.deliverAt !== null) {
    message.message_annotations = { "x-opt-delivery-time": rhea.types.wrap_long(row.deliverAt.getTime()) };
  }
  return message;
}
