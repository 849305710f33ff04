import rhea, { type Message } from "rhea";
import { describe, expect, it } from "vitest";
import {
  buildReceiptBody,
  MAX_RECEIPTS_PER_MESSAGE,
  parseReceiptMessage,
  RECEIPT_IDS_PER_PROPERTY,
  receiptId,
  receiptIdProperties,
  receiptIdsFromProperties,
  toReceiptAmqpMessage,
  type AppliedReceiptEntry,
} from "./receipt.js";

const id = (n: number): string => `0193a5b2-7c4d-7e8f-9a0b-${String(n).padStart(12, "0")}`;
const appliedAt = "2026-11-23T21:00:00.000Z";

/** Version 1, as receivers before batch receipts sent it (one message per receipt). */
const v1 = {
  messageId: id(1),
  group: "receiver",
  aggregateId: "0193a5b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b",
  appliedAt,
  result: "applied",
};

/** Version 2: one receipt per applied batch. */
const v2 = {
  group: "receiver",
  appliedAt,
  receipts: [
    { messageId: id(1), aggregateId: "a1", result: "applied" },
    { messageId: id(2), aggregateId: "a2", result: "duplicate" },
    { messageId: id(3), aggregateId: "a3", result: "already-applied" },
  ],
};

const data = (value: unknown): unknown => rhea.message.data_section(Buffer.from(JSON.stringify(value)));

describe("parseReceiptMessage", () => {
  it("reads a version 1 receipt from a data section or a string, with or without the version property", () => {
    const expected = {
      version: 1,
      group: "receiver",
      receipts: [{ messageId: id(1), group: "receiver", appliedAt }],
    };
    expect(parseReceiptMessage({ body: data(v1), application_properties: { version: 1 } })).toEqual(expected);
    expect(parseReceiptMessage({ body: JSON.stringify(v1) })).toEqual(expected);
  });

  it("reads a version 2 receipt: every row of the batch, with the batch's group and time", () => {
    expect(parseReceiptMessage({ body: data(v2), application_properties: { version: 2 } })).toEqual({
      version: 2,
      group: "receiver",
      receipts: [1, 2, 3].map((n) => ({ messageId: id(n), group: "receiver", appliedAt })),
    });
  });

  it("refuses what is not a receipt of the version it claims", () => {
    expect(parseReceiptMessage({ body: "{nope" })).toBeUndefined();
    expect(parseReceiptMessage({ body: JSON.stringify({ ...v1, messageId: "x" }) })).toBeUndefined();
    expect(parseReceiptMessage({ body: undefined })).toBeUndefined();
    // A version 2 body under version 1 and the reverse.
    expect(parseReceiptMessage({ body: data(v2), application_properties: { version: 1 } })).toBeUndefined();
    expect(parseReceiptMessage({ body: data(v1), application_properties: { version: 2 } })).toBeUndefined();
    expect(parseReceiptMessage({ body: data(v1), application_properties: { version: 3 } })).toBeUndefined();
    const batch = (receipts: unknown): Message => ({
      body: data({ ...v2, receipts }),
      application_properties: { version: 2 },
    });
    expect(parseReceiptMessage(batch([]))).toBeUndefined();
    expect(parseReceiptMessage(batch([{ aggregateId: "a1" }]))).toBeUndefined();
    const tooMany = Array.from({ length: MAX_RECEIPTS_PER_MESSAGE + 1 }, (_, n) => ({ messageId: id(n) }));
    expect(parseReceiptMessage(batch(tooMany))).toBeUndefined();
    expect(
      parseReceiptMessage({
        body: data({ ...v2, appliedAt: "yesterday" }),
        application_properties: { version: 2 },
      }),
    ).toBeUndefined();
  });

  it("keeps an id that is not an outbox id in a batch (it matches no row; its neighbours still count)", () => {
    const receipts = [{ messageId: "not-an-outbox-id" }, { messageId: id(2) }];
    expect(
      parseReceiptMessage({ body: data({ ...v2, receipts }), application_properties: { version: 2 } })
        ?.receipts,
    ).toHaveLength(2);
  });
});

describe("receiptIdsFromProperties", () => {
  it("joins the receipt_ids_<n> properties in their numeric order", () => {
    const properties = {
      receipt_ids_10: id(11),
      receipt_ids_0: `${id(1)},${id(2)}`,
      receipt_ids_2: id(3),
      version: 2,
      subject: "DeliveryReceipt",
    };
    // 10 after 2: numeric, not lexical.
    expect(receiptIdsFromProperties(properties)).toEqual([id(1), id(2), id(3), id(11)]);
  });

  it("is undefined for a receipt without them (version 1)", () => {
    expect(receiptIdsFromProperties({ version: 1, correlationId: id(1) })).toBeUndefined();
  });
});

const entry = (n: number, result = "applied"): AppliedReceiptEntry => ({
  messageId: id(n),
  aggregateId: `agg-${n}`,
  result,
});

describe("receipt batch (what the consumer writes)", () => {
  it("builds one body for every message of the batch, in order, with their results", () => {
    const body = buildReceiptBody(
      "receiver",
      [entry(2), entry(1, "duplicate"), entry(3, "already-applied")],
      new Date("2026-11-29T18:00:00Z"),
    );
    expect(body).toEqual({
      group: "receiver",
      appliedAt: "2026-11-29T18:00:00.000Z",
      receipts: [
        { messageId: id(2), aggregateId: "agg-2", result: "applied" },
        { messageId: id(1), aggregateId: "agg-1", result: "duplicate" },
        { messageId: id(3), aggregateId: "agg-3", result: "already-applied" },
      ],
    });
  });

  it("derives the duplicate id from the group and the sorted message ids", () => {
    const a = receiptId("receiver", [id(1), id(2), id(3)]);
    expect(a).toMatch(/^receipt:receiver:[0-9a-f]{64}$/);
    // Same batch in another order (a redelivery arrives in any order): same id, the broker drops it.
    expect(receiptId("receiver", [id(3), id(1), id(2)])).toBe(a);
    // Another composition or another group: another receipt.
    expect(receiptId("receiver", [id(1), id(2)])).not.toBe(a);
    expect(receiptId("audit", [id(1), id(2), id(3)])).not.toBe(a);
    // Unambiguous: two different lists never hash the same text.
    expect(receiptId("receiver", ["a,b"])).not.toBe(receiptId("receiver", ["a", "b"]));
  });

  it("spreads the message ids over properties short enough for the broker's listing", () => {
    const ids = Array.from({ length: 14 }, (_, i) => id(i));
    const properties = receiptIdProperties(ids);
    expect(Object.keys(properties)).toEqual(["receipt_ids_0", "receipt_ids_1", "receipt_ids_2"]);
    expect(Object.values(properties).flatMap((v) => v.split(","))).toEqual(ids);
    for (const value of Object.values(properties)) expect(value.length).toBeLessThanOrEqual(256);
    expect(properties.receipt_ids_0?.split(",")).toHaveLength(RECEIPT_IDS_PER_PROPERTY);
    expect(receiptIdProperties([])).toEqual({});
  });

  it("is read back by the producer's side: rows from the body, ids from the properties", () => {
    const body = buildReceiptBody("receiver", [entry(1), entry(2)], new Date("2026-11-29T18:00:00Z"));
    const rid = receiptId("receiver", [id(1), id(2)]);
    const message = rhea.message.decode(
      rhea.message.encode(toReceiptAmqpMessage(rid, body, { traceparent: "00-abc-def-01" })),
    ) as unknown as Message;
    const props = message.application_properties as Record<string, unknown>;
    expect(props).toMatchObject({ _AMQ_DUPL_ID: rid, version: 2, traceparent: "00-abc-def-01" });
    expect(message.message_id).toBe(rid);
    expect(receiptIdsFromProperties(props)).toEqual([id(1), id(2)]);
    expect(parseReceiptMessage(message)).toEqual({
      version: 2,
      group: "receiver",
      receipts: [
        { messageId: id(1), group: "receiver", appliedAt: "2026-11-29T18:00:00.000Z" },
        { messageId: id(2), group: "receiver", appliedAt: "2026-11-29T18:00:00.000Z" },
      ],
    });
  });
});
