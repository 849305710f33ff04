import rhea, { type Message } from "rhea";
import { describe, expect, it } from "vitest";
import { toAmqpEnvelope } from "../../contracts/envelope.js";
import { buildReceiptBody, toReceiptAmqpMessage } from "../../contracts/receipt.js";
import { toInboundMessage } from "./consumer.js";
import { groupDeadLetterQueue, groupQueue } from "./topology.js";

// What a receiver gets: the message encoded and decoded as on the wire (AMQP-typed values unwrapped).
const wire = (message: Message): Message =>
  rhea.message.decode(rhea.message.encode(message)) as unknown as Message;

const envelope = {
  id: "0193a5b2-7c4d-7e8f-9a0b-000000000001",
  type: "NoteCreated",
  version: 2,
  aggregateId: "note-1",
  payload: { id: "note-1", text: "hi" },
  createdAt: new Date("2026-01-01T00:00:00Z"),
  ordered: true,
  priority: 4,
  deliverAt: null,
  trace: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" },
};

describe("toInboundMessage", () => {
  it("decodes an event: id, group as key, trace, attempt from the delivery count", () => {
    const message = wire({ ...toAmqpEnvelope(envelope), delivery_count: 2 });
    const decoded = toInboundMessage("event", message);
    expect(decoded).toMatchObject({
      ok: true,
      value: {
        messageId: envelope.id,
        key: "note-1",
        attempt: 3,
        trace: envelope.trace,
        value: { messageId: envelope.id, type: "NoteCreated", version: 2, aggregateId: "note-1" },
      },
    });
  });

  it("has no key for a message sent outside order", () => {
    const decoded = toInboundMessage("event", wire(toAmqpEnvelope({ ...envelope, ordered: false })));
    expect(decoded.ok && decoded.value.key).toBeUndefined();
    expect(decoded.ok && decoded.value.attempt).toBe(1);
  });

  it("decodes a receipt", () => {
    const body = buildReceiptBody(
      "projector",
      [{ messageId: envelope.id, aggregateId: "note-1", result: "applied" }],
      new Date(),
    );
    const decoded = toInboundMessage("receipt", wire(toReceiptAmqpMessage("r-1", body, {})));
    expect(decoded).toMatchObject({
      ok: true,
      value: {
        messageId: "r-1",
        value: { version: 2, group: "projector", receipts: [{ messageId: envelope.id }] },
      },
    });
  });

  it("says why a message does not decode", () => {
    expect(toInboundMessage("event", { body: "x" })).toEqual({
      ok: false,
      reason: "missing or invalid message_id",
    });
    const notJson = wire({
      ...toAmqpEnvelope(envelope),
      body: rhea.message.data_section(Buffer.from("{")) as unknown,
    });
    const unreadable = toInboundMessage("event", notJson);
    expect(!unreadable.ok && unreadable.reason).toMatch(/not valid JSON/);
    expect(toInboundMessage("receipt", wire(toAmqpEnvelope(envelope)))).toEqual({
      ok: false,
      reason: "not a delivery receipt",
    });
  });
});

describe("topology names", () => {
  it("maps (source, group) to the group's queue and its dead-letter queue", () => {
    expect(groupQueue("notes", "projector")).toBe("notes.projector");
    expect(groupDeadLetterQueue("notes", "projector")).toBe("DLQ.notes.projector");
    expect(groupQueue("delivery-receipts::delivery-receipts", "sender")).toBe(
      "delivery-receipts::delivery-receipts",
    );
    expect(groupDeadLetterQueue("delivery-receipts::delivery-receipts", "sender")).toBe(
      "DLQ.delivery-receipts",
    );
    expect(() => groupQueue("notes", " ")).toThrow(/group/);
  });
});
