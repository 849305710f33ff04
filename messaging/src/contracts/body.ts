/** rhea's representation of a received AMQP data section (body type 0x75). */
const DATA_SECTION = 0x75;

/** A received message body, as far as the contracts read it. */
export type Body =
  | { ok: true; kind: "text"; text: string }
  /** Already structured: an amqp-value map. */
  | { ok: true; kind: "value"; value: unknown }
  | { ok: false; reason: string };

/**
 * Reads a body: a data section (what our producers send), an amqp-value string or binary, or an
 * amqp-value map. Pure, never throws.
 */
export function readBody(body: unknown): Body {
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

export function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value)
    ? (value as Record<string, unknown>)
    : undefined;
}
