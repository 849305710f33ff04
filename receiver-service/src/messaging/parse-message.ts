import type { Message } from "rhea";
import { validateEvent, type IncomingEvent } from "../domain/events.js";

/** rhea's representation of a received AMQP data section (body type 0x75). */
const DATA_SECTION = 0x75;
const MAX_MESSAGE_ID_LENGTH = 256;
/**
 * Largest JSON body accepted (bytes). The sender's API caps a request at 64 kB, so anything much
 * bigger is not ours and would only cost memory and database space: poison.
 */
export const MAX_BODY_BYTES = 256 * 1024;

export type ParseResult =
  | { ok: true; event: IncomingEvent }
  /** Poison: retrying can never help. messageId is kept when readable, for the failure record. */
  | { ok: false; reason: string; messageId?: string };

/**
 * Turns an AMQP message (as the sender's relay produces it, see the message contract) into a
 * validated event, or says why it is poison. Pure: no I/O, never throws.
 */
export function parseMessage(message: Message): ParseResult {
  const messageId = readMessageId(message.message_id);
  if (messageId === undefined) return { ok: false, reason: "missing or invalid message_id" };
  const poison = (reason: string): ParseResult => ({ ok: false, reason, messageId });

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

  const validated = validateEvent({ messageId, type, version, aggregateId }, payload);
  return validated.ok ? validated : poison(validated.reason);
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

type Body =
  | { ok: true; kind: "text"; text: string }
  /** Already structured: an amqp-value map. */
  | { ok: true; kind: "value"; value: unknown }
  | { ok: false; reason: string };

/** Accepts a data section (the contract), or an amqp-value string/binary, or an amqp-value map. */
function readBody(body: unknown): Body {
  if (typeof body === "string") return { ok: true, kind: "text", text: body };
  if (Buffer.isBuffer(body)) return { ok: true, kind: "text", text: body.toString("utf8") };
  const section = asRecord(body);
  if (section && section["typecode"] === DATA_SECTION) {
    const content = section["content"];
    if (Buffer.isBuffer(content)) return { ok: true, kind: "text", text: content.toString("utf8") };
    if (Array.isArray(content) && content.every((part) => Buffer.isBuffer(part))) {
      return { ok: true, kind: "text", text: Buffer.concat(content).toString("utf8") };
    }
    return { ok: false, reason: "unreadable data section" };
  }
  if (section && section["typecode"] === undefined) return { ok: true, kind: "value", value: section };
  if (body === undefined || body === null) return { ok: false, reason: "empty body" };
  return { ok: false, reason: "unsupported body type (expected a data section with JSON)" };
}

function readVersion(value: unknown): number | undefined {
  const n = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
  return typeof n === "number" && Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

function readString(value: unknown): string | undefined {
  return typeof value === "string" && value.trim().length > 0 ? value.trim() : undefined;
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value)
    ? (value as Record<string, unknown>)
    : undefined;
}
