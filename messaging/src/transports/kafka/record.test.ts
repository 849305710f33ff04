import { describe, expect, it } from "vitest";
import { readEnvelope } from "../../contracts/envelope.js";
import { buildReceiptBody, parseReceiptMessage, receiptId } from "../../contracts/receipt.js";
import {
  asContractMessage,
  attemptOf,
  decodeHeaders,
  dueAtOf,
  encodeHeaders,
  toFailedRecord,
  toKafkaReceiptRecord,
  toKafkaRecord,
  type ReadRecord,
} from "./record.js";

const envelope = {
  id: "6f1c4a52-0c0e-4a8e-9d7e-0c6b1f0e2a11",
  type: "ItemChanged",
  version: 3,
  aggregateId: "item-1",
  payload: { id: "item-1", name: "x" },
  createdAt: new Date("2026-01-02T03:04:05.000Z"),
  ordered: true,
  priority: 4,
  deliverAt: null,
  trace: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" },
};

/** The record as a consumer reads it back from the wire. */
function read(data: ReturnType<typeof toKafkaRecord>, extra: Partial<ReadRecord> = {}): ReadRecord {
  return {
    topic: "items",
    partition: 2,
    offset: 41n,
    key: data.key,
    value: data.value,
    headers: decodeHeaders(encodeHeaders(data.headers)),
    timestamp: 1_000,
    ...extra,
  };
}

describe("Kafka record layout", () => {
  it("writes an envelope as key, JSON value and headers, and reads it back with the envelope contract", () => {
    const data = toKafkaRecord(envelope);
    expect(data.key).toBe("item-1");
    expect(data.headers).toMatchObject({
      "message-id": envelope.id,
      type: "ItemChanged",
      version: "3",
      "created-at": "2026-01-02T03:04:05.000Z",
      traceparent: envelope.trace.traceparent,
    });
    const back = readEnvelope(asContractMessage(read(data)));
    expect(back).toEqual({
      ok: true,
      envelope: {
        messageId: envelope.id,
        type: "ItemChanged",
        version: 3,
        aggregateId: "item-1",
        payload: envelope.payload,
      },
    });
  });

  it("keeps the aggregate id of an unordered envelope, which has no key", () => {
    const data = toKafkaRecord({ ...envelope, ordered: false });
    expect(data.key).toBeUndefined();
    const back = readEnvelope(asContractMessage(read(data)));
    expect(back.ok && back.envelope.aggregateId).toBe("item-1");
  });

  it("writes a receipt with the group as key that the receipt contract reads", () => {
    const body = buildReceiptBody(
      "receiver",
      [{ messageId: envelope.id, aggregateId: "item-1", result: "applied" }],
      new Date(),
    );
    const id = receiptId("receiver", [envelope.id]);
    const data = toKafkaReceiptRecord(id, body, {});
    expect(data.key).toBe("receiver");
    expect(data.headers["message-id"]).toBe(id);
    expect(parseReceiptMessage(asContractMessage(read(data)))).toMatchObject({
      version: 2,
      group: "receiver",
    });
  });

  it("decodes header bytes, skipping nameless headers and keeping the last of repeated ones", () => {
    expect(
      decodeHeaders([
        [Buffer.from("a"), Buffer.from("1")],
        [null, Buffer.from("x")],
        [Buffer.from("a"), Buffer.from("2")],
        [Buffer.from("b"), null],
      ]),
    ).toEqual({ a: "2", b: "" });
  });

  it("counts attempts from the header (1 on the source) and reads due-at", () => {
    const source = read(toKafkaRecord(envelope));
    expect(attemptOf(source)).toBe(1);
    expect(dueAtOf(source)).toBeUndefined();
    const retried = toFailedRecord(source, { attempt: 1, dueAt: 5_000, error: "boom", group: "receiver" });
    const onTier = read(retried, { topic: "items.receiver.retry-1", partition: 0, offset: 7n });
    expect(attemptOf(onTier)).toBe(2);
    expect(dueAtOf(onTier)).toBe(5_000);
    expect(onTier.headers).toMatchObject({
      error: "boom",
      "origin-topic": "items",
      "origin-partition": "2",
      "origin-offset": "41",
      "origin-group": "receiver",
    });
    // Failing again on the tier keeps the first origin; the DLT record has no due time.
    const dead = toFailedRecord(onTier, { attempt: 2, dueAt: undefined, error: "again", group: "receiver" });
    expect(dead.headers).toMatchObject({
      attempt: "2",
      error: "again",
      "origin-topic": "items",
      "origin-offset": "41",
    });
    expect(dead.headers["due-at"]).toBeUndefined();
    expect(attemptOf(read({ ...dead, headers: { ...dead.headers, attempt: "garbage" } }))).toBe(1);
  });
});
