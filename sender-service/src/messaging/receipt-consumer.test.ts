import rhea from "rhea";
import { describe, expect, it } from "vitest";
import { parseReceipt } from "./receipt-consumer.js";

const receipt = {
  messageId: "0193a5b2-7c4d-7e8f-9a0b-aaaaaaaaaaaa",
  group: "receiver",
  aggregateId: "0193a5b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b",
  appliedAt: "2026-11-23T21:00:00.000Z",
  result: "applied",
};

describe("parseReceipt", () => {
  it("reads the receiver's receipt from a data section or a string", () => {
    const section = rhea.message.data_section(Buffer.from(JSON.stringify(receipt))) as unknown;
    expect(parseReceipt({ body: section })).toMatchObject({
      messageId: receipt.messageId,
      group: "receiver",
    });
    expect(parseReceipt({ body: JSON.stringify(receipt) })).toMatchObject({ appliedAt: receipt.appliedAt });
  });

  it("refuses what is not a receipt", () => {
    expect(parseReceipt({ body: "{nope" })).toBeUndefined();
    expect(parseReceipt({ body: JSON.stringify({ ...receipt, messageId: "x" }) })).toBeUndefined();
    expect(parseReceipt({ body: undefined })).toBeUndefined();
  });
});
