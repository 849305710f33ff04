import rhea, { type Message } from "rhea";
import { describe, expect, it } from "vitest";
import {
  MAX_RECEIPTS_PER_MESSAGE,
  parseReceiptMessage,
  receiptIdsFromProperties,
} from "./receipt-message.js";

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
