import rhea from "rhea";
import type { Message } from "rhea";
import type { ClaimedOutboxMessage } from "../data/outbox.js";

/**
 * The AMQP message for an outbox row, exactly as the message contract says (the receiver parses
 * exactly this):
 * - message_id and the string application property `_AMQ_DUPL_ID` = outbox id, so that Artemis
 *   drops a resend of a message it already has (resends happen whenever an outcome is unknown);
 * - group_id = aggregate id, subject/type/version = the event, durable so that `accepted`
 *   means "on disk";
 * - the JSON payload as a data section (opaque bytes, content_type says how to read them).
 */
export function toAmqpMessage(row: ClaimedOutboxMessage): Message {
  const applicationProperties: Record<string, unknown> = {
    _AMQ_DUPL_ID: row.id,
    type: row.type,
    // Explicitly an AMQP int: rhea would encode a positive JS number as uint.
    version: rhea.types.wrap_int(row.version),
    aggregate_id: row.aggregateId,
  };
  if (row.headers.traceparent) applicationProperties.traceparent = row.headers.traceparent;
  if (row.headers.tracestate) applicationProperties.tracestate = row.headers.tracestate;

  return {
    message_id: row.id,
    durable: true,
    subject: row.type,
    group_id: row.aggregateId,
    content_type: "application/json",
    creation_time: row.createdAt,
    application_properties: applicationProperties,
    body: rhea.message.data_section(Buffer.from(JSON.stringify(row.payload), "utf8")) as unknown,
  };
}
