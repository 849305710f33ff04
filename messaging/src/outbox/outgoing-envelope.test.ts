import rhea from "rhea";
import { describe, expect, it } from "vitest";
import { toAmqpEnvelope } from "../contracts/envelope.js";
import { toOutgoingEnvelope } from "./outgoing-envelope.js";

/** The AMQP message the Artemis transport sends for a row (what the receiver reads). */
function toAmqpMessage(...args: Parameters<typeof toOutgoingEnvelope>) {
  return toAmqpEnvelope(toOutgoingEnvelope(...args));
}

const payload = {
  id: "0196f7c2-0000-7000-8000-000000000001",
  name: "n",
  description: null,
  createdAt: "2025-01-01T00:00:00.000Z",
};
const row: Parameters<typeof toAmqpMessage>[0] = {
  id: "0196f7c2-1111-7000-8000-000000000002",
  seq: 1,
  priority: 4,
  deliverAt: null,
  aggregateType: "EntityItem",
  aggregateId: payload.id,
  type: "EntityItemCreated",
  version: 1,
  destination: "entity-items",
  payload,
  headers: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", tracestate: "k=v" },
  attempts: 0,
  createdAt: new Date("2025-01-01T00:00:01.000Z"),
};

/** What the receiver sees: encode and decode through rhea's own codec. */
function roundTrip(r: Parameters<typeof toAmqpMessage>[0]) {
  return rhea.message.decode(rhea.message.encode(toAmqpMessage(r)));
}

describe("toOutgoingEnvelope, as AMQP", () => {
  it("follows the message contract", () => {
    const m = roundTrip(row);
    expect(m.message_id).toBe(row.id);
    expect(m.durable).toBe(true);
    expect(m.subject).toBe("EntityItemCreated");
    expect(m.group_id).toBe(payload.id);
    expect(m.content_type).toBe("application/json");
    expect((m.creation_time as Date).getTime()).toBe(row.createdAt.getTime());
    expect(m.application_properties).toEqual({
      _AMQ_DUPL_ID: row.id,
      type: "EntityItemCreated",
      version: 1,
      aggregate_id: payload.id,
      traceparent: row.headers.traceparent,
      tracestate: "k=v",
    });
  });

  it("carries the payload as a JSON data section", () => {
    const m = roundTrip(row);
    const body = m.body as { typecode: number; content: Buffer };
    expect(body.typecode).toBe(0x75); // AMQP data section
    expect(JSON.parse(body.content.toString("utf8"))).toEqual(payload);
  });

  it("encodes version as an AMQP int and _AMQ_DUPL_ID as a string", () => {
    const props = toAmqpMessage(row).application_properties as Record<string, unknown>;
    expect(props._AMQ_DUPL_ID).toBeTypeOf("string");
    const encoded = rhea.message.encode({ body: null, application_properties: { version: props.version } });
    // 0x54 = smallint, the 1-byte encoding of the AMQP int type (uint would be 0x52/0x43).
    expect(encoded.includes(Buffer.from([0x54, 0x01]))).toBe(true);
  });

  it("leaves trace headers out when the row has none", () => {
    const m = roundTrip({ ...row, headers: {} });
    expect(m.application_properties).not.toHaveProperty("traceparent");
    expect(m.application_properties).not.toHaveProperty("tracestate");
  });

  it("maps priority to the AMQP header and deliverAt to x-opt-delivery-time as epoch ms (a number)", () => {
    const deliverAt = new Date("2030-01-01T00:00:00.000Z");
    const m = roundTrip({ ...row, priority: 9, deliverAt });
    expect(m.priority).toBe(9);
    const annotations = m.message_annotations as Record<string, unknown>;
    expect(annotations["x-opt-delivery-time"]).toBe(deliverAt.getTime());
  });

  it("omits priority and annotations for an ordinary row, and prefers the relay's trace context", () => {
    const m = roundTrip(row);
    expect(m.message_annotations).toBeUndefined();
    const traced = toAmqpMessage(row, {
      traceparent: "00-11111111111111111111111111111111-2222222222222222-01",
    });
    expect((traced.application_properties as Record<string, unknown>).traceparent).toContain("1111");
    expect(traced.application_properties).not.toHaveProperty("tracestate");
  });
});
