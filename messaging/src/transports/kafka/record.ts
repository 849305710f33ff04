import type { Message } from "rhea";
import type { OutgoingEnvelope, TraceHeaders } from "../../contracts/envelope.js";
import { receiptIdProperties, RECEIPT_VERSION, type ReceiptBatchBody } from "../../contracts/receipt.js";

/**
 * The Kafka record layout (docs/transport-mapping.md): value = the envelope's JSON body (as the
 * Artemis body), key = the aggregate id when ordered, the rest in string headers. One module for
 * writing and reading, so both sides agree.
 */

export const HEADER = {
  messageId: "message-id",
  type: "type",
  version: "version",
  createdAt: "created-at",
  /** Also written for unordered records, which have no key to carry it. */
  aggregateId: "aggregate-id",
  traceparent: "traceparent",
  tracestate: "tracestate",
  attempt: "attempt",
  dueAt: "due-at",
  error: "error",
  originTopic: "origin-topic",
  originPartition: "origin-partition",
  originOffset: "origin-offset",
  originGroup: "origin-group",
} as const;

/** A record as written: string headers (the transport turns them into bytes on the wire). */
export interface KafkaRecordData {
  key: string | undefined;
  value: Buffer;
  headers: Record<string, string>;
}

/** A record as read, before any decoding of its value. */
export interface ReadRecord {
  topic: string;
  partition: number;
  offset: bigint;
  key: string | undefined;
  value: Buffer | undefined;
  headers: Record<string, string>;
  /** Producer timestamp, epoch ms. */
  timestamp: number;
}

const MAX_ERROR_HEADER = 1_000;

function traceHeaders(trace: TraceHeaders): Record<string, string> {
  const headers: Record<string, string> = {};
  if (trace.traceparent) headers[HEADER.traceparent] = trace.traceparent;
  if (trace.tracestate) headers[HEADER.tracestate] = trace.tracestate;
  return headers;
}

/**
 * The record the publisher writes for an envelope. Kafka has no priority and no scheduled
 * delivery: a `deliverAt` is refused (the relay holds scheduled rows until due), priority is not
 * carried.
 */
export function toKafkaRecord(envelope: OutgoingEnvelope): KafkaRecordData {
  return {
    key: envelope.ordered ? envelope.aggregateId : undefined,
    value: Buffer.from(JSON.stringify(envelope.payload), "utf8"),
    headers: {
      [HEADER.messageId]: envelope.id,
      [HEADER.type]: envelope.type,
      [HEADER.version]: String(envelope.version),
      [HEADER.createdAt]: envelope.createdAt.toISOString(),
      [HEADER.aggregateId]: envelope.aggregateId,
      ...traceHeaders(envelope.trace),
    },
  };
}

/** The record of a delivery receipt: the receipt id as message id, the consumer group as key. */
export function toKafkaReceiptRecord(
  id: string,
  body: ReceiptBatchBody,
  trace: TraceHeaders,
): KafkaRecordData {
  return {
    key: body.group,
    value: Buffer.from(JSON.stringify(body), "utf8"),
    headers: {
      [HEADER.messageId]: id,
      [HEADER.type]: "DeliveryReceipt",
      [HEADER.version]: String(RECEIPT_VERSION),
      ...receiptIdProperties(body.receipts.map((r) => r.messageId)),
      ...traceHeaders(trace),
    },
  };
}

/** Where a failed record goes next, and why: the headers of a retry-tier or dead-letter record. */
export function toFailedRecord(
  record: ReadRecord,
  failure: { attempt: number; dueAt: number | undefined; error: string; group: string },
): KafkaRecordData {
  const h = record.headers;
  // A record failing again on a retry tier keeps the origin of its first failure.
  const fromOrigin = h[HEADER.originTopic] !== undefined;
  const headers: Record<string, string> = {
    ...h,
    [HEADER.attempt]: String(failure.attempt),
    [HEADER.error]: failure.error.slice(0, MAX_ERROR_HEADER),
    [HEADER.originTopic]: fromOrigin ? h[HEADER.originTopic]! : record.topic,
    [HEADER.originPartition]: fromOrigin ? (h[HEADER.originPartition] ?? "") : String(record.partition),
    [HEADER.originOffset]: fromOrigin ? (h[HEADER.originOffset] ?? "") : String(record.offset),
    [HEADER.originGroup]: failure.group,
  };
  if (failure.dueAt === undefined) delete headers[HEADER.dueAt];
  else headers[HEADER.dueAt] = String(failure.dueAt);
  return { key: record.key, value: record.value ?? Buffer.alloc(0), headers };
}

/** Headers as bytes for the wire. */
export function encodeHeaders(headers: Record<string, string>): Map<Buffer, Buffer> {
  const encoded = new Map<Buffer, Buffer>();
  for (const [name, value] of Object.entries(headers)) encoded.set(Buffer.from(name), Buffer.from(value));
  return encoded;
}

/** Headers from the wire as text; a repeated header keeps its last value, one without a name is skipped. */
export function decodeHeaders(
  headers: Iterable<[Buffer | null | undefined, Buffer | null | undefined]>,
): Record<string, string> {
  const decoded: Record<string, string> = {};
  for (const [name, value] of headers) {
    if (name === null || name === undefined || name.length === 0) continue;
    decoded[name.toString("utf8")] = value === null || value === undefined ? "" : value.toString("utf8");
  }
  return decoded;
}

/** The `attempt` a record is handed out with: its header + 1 on a retry tier, 1 on the source. */
export function attemptOf(record: ReadRecord): number {
  const header = Number(record.headers[HEADER.attempt]);
  return Number.isSafeInteger(header) && header >= 1 ? header + 1 : 1;
}

/** The due time of a retry-tier record (epoch ms); undefined when it has none or it is unreadable. */
export function dueAtOf(record: ReadRecord): number | undefined {
  const raw = record.headers[HEADER.dueAt];
  if (raw === undefined || !/^\d{1,16}$/.test(raw)) return undefined;
  return Number(raw);
}

/**
 * The record seen as the AMQP message the contracts read (readEnvelope, parseReceiptMessage), so
 * the envelope and receipt rules are written once: headers become application properties, the key
 * the group, a numeric `version` a number.
 */
export function asContractMessage(record: ReadRecord): Message {
  const properties: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(record.headers)) {
    properties[name === HEADER.aggregateId ? "aggregate_id" : name] = value;
  }
  const version = record.headers[HEADER.version];
  if (version !== undefined && /^\d{1,9}$/.test(version)) properties["version"] = Number(version);
  const message: Message = {
    message_id: record.headers[HEADER.messageId],
    application_properties: properties,
    body: record.value,
  };
  if (record.headers[HEADER.type] !== undefined) message.subject = record.headers[HEADER.type];
  if (record.key !== undefined) message.group_id = record.key;
  return message;
}

/** The trace context a record carries, for the consumer span's parent. */
export function traceOf(record: ReadRecord): TraceHeaders {
  const trace: TraceHeaders = {};
  const { traceparent, tracestate } = record.headers;
  if (traceparent !== undefined) trace.traceparent = traceparent;
  if (tracestate !== undefined) trace.tracestate = tracestate;
  return trace;
}
