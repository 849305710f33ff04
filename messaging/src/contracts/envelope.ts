import rhea, { type Message } from "rhea";
import { asRecord, readBody } from "./body.js";

/**
 * The event envelope: the AMQP message a producer's relay sends for one outbox row and a
 * consumer reads back. Both sides use this module, so the mapping (duplicate id, message group,
 * type, version, trace context, JSON body) is written once.
 */

/** Artemis drops a message whose `_AMQ_DUPL_ID` it has seen already: resends are harmless. */
export const DUPLICATE_ID_PROPERTY = "_AMQ_DUPL_ID";

/** W3C trace context carried in application properties on every hop. */
export interface TraceHeaders {
  traceparent?: string;
  tracestate?: string;
}

/** What a producer sends: one event of one aggregate. */
export interface OutgoingEnvelope {
  /** Message id and duplicate id (the outbox id). */
  id: string;
  type: string;
  /** Positive integer: the aggregate's version this event produces. */
  version: number;
  aggregateId: string;
  payload: unknown;
  createdAt: Date;
  /** False: no message group, the message is outside per-aggregate order (scheduled, prioritised). */
  ordered: boolean;
  /** AMQP priority 0..9; 4 (the AMQP default) is not written. */
  priority: number;
  /** Delivery held by the broker until then; null: at once. */
  deliverAt: Date | null;
  trace: TraceHeaders;
}

/** What a consumer read from an envelope, before any domain validation of the payload. */
export interface IncomingEnvelope {
  messageId: string;
  type: string;
  version: number;
  aggregateId: string;
  payload: unknown;
}

export type ReadEnvelopeResult =
  | { ok: true; envelope: IncomingEnvelope }
  /** Poison: retrying can never help. messageId is kept when readable, for the failure record. */
  | { ok: false; reason: string; messageId?: string };

const MAX_MESSAGE_ID_LENGTH = 256;
/**
 * Largest JSON body accepted (bytes). The sender's API caps a request at 64 kB, so anything much
 * bigger is not ours and would only cost memory and database space: poison.
 */
export const MAX_BODY_BYTES = 256 * 1024;

/**
 * The AMQP message for an envelope:
 * - message_id and the string application property `_AMQ_DUPL_ID` = id, so that Artemis drops a
 *   resend of a message it already has (resends happen whenever an outcome is unknown);
 * - group_id = aggregate id (unless sent outside order), subject/type/version = the event,
 *   durable so that `accepted` means "on disk";
 * - the JSON payload as a data section (opaque bytes, content_type says how to read them);
 * - priority (AMQP header) and, for scheduled messages, the annotation `x-opt-delivery-time` as
 *   epoch milliseconds — a NUMBER: Artemis ignores an AMQP timestamp (what rhea makes of a Date).
 */
export function toAmqpEnvelope(envelope: OutgoingEnvelope): Message {
  const applicationProperties: Record<string, unknown> = {
    [DUPLICATE_ID_PROPERTY]: envelope.id,
    type: envelope.type,
    // Explicitly an AMQP int: rhea would encode a positive JS number as uint.
    version: rhea.types.wrap_int(envelope.version),
    aggregate_id: envelope.aggregateId,
  };
  if (envelope.trace.traceparent) applicationProperties.traceparent = envelope.trace.traceparent;
  if (envelope.trace.tracestate) applicationProperties.tracestate = envelope.trace.tracestate;

  const message: Message = {
    message_id: envelope.id,
    durable: true,
    subject: envelope.type,
    ...(envelope.ordered ? { group_id: envelope.aggregateId } : {}),
    content_type: "application/json",
    creation_time: envelope.createdAt,
    application_properties: applicationProperties,
    body: rhea.message.data_section(Buffer.from(JSON.stringify(envelope.payload), "utf8")) as unknown,
  };
  if (envelope.priority !== 4) message.priority = envelope.priority;
  if (envelope.deliverAt !== null) {
    message.message_annotations = {
      "x-opt-delivery-time": rhea.types.wrap_long(envelope.deliverAt.getTime()),
    };
  }
  return message;
}

/**
 * Reads an envelope as toAmqpEnvelope writes it (and a few lenient variants: type from the
 * subject, aggregate id from the group or the payload's `id`, an amqp-value body), or says why it
 * is poison. Pure: no I/O, never throws. The payload is not validated: that is the consumer's domain.
 */
export function readEnvelope(message: Message): ReadEnvelopeResult {
  const messageId = readMessageId(message.message_id);
  if (messageId === undefined) return { ok: false, reason: "missing or invalid message_id" };
  const poison = (reason: string): ReadEnvelopeResult => ({ ok: false, reason, messageId });

  const props = asRecord(message.application_properties) ?? {};
  const type = readString(props["type"]) ?? readString(message.subject);
  if (type === undefined) return poison("missing event type (application property 'type' or subject)");
  const version = readVersion(props["version"]);
  if (version === undefined) return poison("missing or invalid application property 'version'");

  const body = readBody(message.body);
  if (!body.ok) return poison(body.reason);
  let payload: unknown;
  if (body.kind === "text" && Buffer.byteLength(body.text) > MAX_BODY_BYTES) {
    return poison(`body too large: ${Buffer.byteLength(body.text)} bytes (at most ${MAX_BODY_BYTES})`);
  }
  if (body.kind === "text") {
    try {
      payload = JSON.parse(body.text);
    } catch (error) {
      return poison(`body is not valid JSON: ${(error as Error).message}`);
    }
  } else {
    payload = body.value;
  }

  const aggregateId =
    readString(props["aggregate_id"]) ??
    readString(message.group_id) ??
    readString(asRecord(payload)?.["id"]);
  if (aggregateId === undefined)
    return poison("missing aggregate id (application property 'aggregate_id' or group_id)");
  return { ok: true, envelope: { messageId, type, version, aggregateId, payload } };
}

/** The trace context a message carries in its application properties (for a consumer span's parent). */
export function readTraceHeaders(message: Message): TraceHeaders {
  const carrier: TraceHeaders = {};
  const props = asRecord(message.application_properties) ?? {};
  const { traceparent, tracestate } = props;
  if (typeof traceparent === "string") carrier.traceparent = traceparent;
  if (typeof tracestate === "string") carrier.tracestate = tracestate;
  return carrier;
}

/** The AMQP group id (the producer sets the aggregate id), when there is one. */
export function messageGroup(message: Message): string | undefined {
  const group = message.group_id;
  return typeof group === "string" && group !== "" ? group : undefined;
}

/** A message id as text: strings as they are, AMQP uuids (16-byte buffers) in canonical form. */
export function readMessageId(value: unknown): string | undefined {
  if (typeof value === "string") {
    const trimmed = value.trim();
    return trimmed.length > 0 && trimmed.length <= MAX_MESSAGE_ID_LENGTH ? trimmed : undefined;
  }
  if (Buffer.isBuffer(value) && value.length === 16) {
    const hex = value.toString("hex");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
  return undefined;
}

function readVersion(value: unknown): number | undefined {
  const n = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
  return typeof n === "number" && Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

function readString(value: unknown): string | undefined {
  return typeof value === "string" && value.trim().length > 0 ? value.trim() : undefined;
}
