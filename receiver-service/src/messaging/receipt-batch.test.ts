import { describe, expect, it } from "vitest";
import type { IncomingEvent } from "../domain/events.js";
import {
  buildReceiptBody,
  receiptId,
  receiptIdProperties,
  RECEIPT_IDS_PER_PROPERTY,
  type AppliedMessage,
} from "./receipt-batch.js";

const id = (n: number): string => `0193a5b2-7c4d-7e8f-9a0b-${String(n).padStart(12, "0")}`;
const applied = (n: number, result: AppliedMessage["result"] = "applied"): AppliedMessage => ({
  event: { messageId: id(n), aggregateId: `agg-${n}` } as IncomingEvent,
  result,
});

describe("receipt batch", () => {
  it("builds one body for every message of the batch, in order, with their results", () => {
    const body = buildReceiptBody(
      "receiver",
      [applied(2), applied(1, "duplicate"), applied(3, "already-applied")],
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
});
