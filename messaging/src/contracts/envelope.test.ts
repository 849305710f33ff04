import rhea, { type Message } from "rhea";
import { describe, expect, it } from "vitest";
import {
  DUPLICATE_ID_PROPERTY,
  messageGroup,
  readEnvelope,
  readMessageId,
  readTraceHeaders,
  toAmqpEnvelope,
  type OutgoingEnvelope,
} from "./envelope.js";

const id = "0193a5b2-7c4d-7e8f-9a0b-aaaaaaaaaaaa";
const aggregateId = "0193a5b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b";
const envelope: OutgoingEnvelope = {
  id,
  type: "EntityItemCreated",
  version: 2,
  aggregateId,
  payload: { item: { id: aggregateId, name: "Widget" } },
  createdAt: new Date("2026-12-07T15:00:00Z"),
  ordered: true,
  priority: 4,
  deliverAt: null,
  trace: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" },
};

/** Through the wire format and back, as the consumer receives it. */
// rhea types a decoded message apart from a received one (body optional there): the same object.
const roundTrip = (message: Message): Message =>
  rhea.message.decode(rhea.message.encode(message)) as unknown as Message;

describe("event envelope", () => {
  it("reads back what it writes, with the duplicate id, group and trace context", () => {
    const received = roundTrip(toAmqpEnvelope(envelope));
    const props = received.application_properties as Record<string, unknown>;
    expect(props[DUPLICATE_ID_PROPERTY]).toBe(id);
    expect(messageGroup(received)).toBe(aggregateId);
    expect(readTraceHeaders(received)).toEqual(envelope.trace);
    expect(readEnvelope(received)).toEqual({
      ok: true,
      envelope: {
        messageId: id,
        type: "EntityItemCreated",
        version: 2,
        aggregateId,
        payload: envelope.payload,
      },
    });
  });

  it("has no group outside order and writes priority and delivery time only when set", () => {
    const plain = toAmqpEnvelope(envelope);
    expect(plain.priority).toBeUndefined();
    expect(plain.message_annotations).toBeUndefined();
    const scheduled = roundTrip(
      toAmqpEnvelope({ ...envelope, ordered: false, priority: 7, deliverAt: new Date(1_765_000_000_000) }),
    );
    expect(messageGroup(scheduled)).toBeUndefined();
    expect(scheduled.priority).toBe(7);
    expect(scheduled.message_annotations?.["x-opt-delivery-time"]).toBe(1_765_000_000_000);
  });

  it("says why a message is poison, keeping its id when readable", () => {
    expect(readEnvelope({ body: "{}" })).toEqual({ ok: false, reason: "missing or invalid message_id" });
    const bad = roundTrip({
      ...toAmqpEnvelope(envelope),
      body: rhea.message.data_section(Buffer.from("{nope")) as unknown,
    });
    expect(readEnvelope(bad)).toMatchObject({ ok: false, messageId: id });
  });
});

describe("readMessageId", () => {
  it("reads strings and AMQP uuids", () => {
    expect(readMessageId(" abc ")).toBe("abc");
    expect(readMessageId(Buffer.from("0193a5b27c4d7e8f9a0b1c2d3e4f5a6b", "hex"))).toBe(aggregateId);
    expect(readMessageId("")).toBeUndefined();
    expect(readMessageId("x".repeat(257))).toBeUndefined();
    expect(readMessageId(Buffer.from("short"))).toBeUndefined();
  });
});
