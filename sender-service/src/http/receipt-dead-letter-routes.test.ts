import { describe, expect, it } from "vitest";
import { acknowledgedIds, receiptGroup } from "./receipt-dead-letter-routes.js";

const id = (n: number): string => `0193a5b2-7c4d-7e8f-9a0b-${String(n).padStart(12, "0")}`;

describe("receipt dead letters", () => {
  it("reads the consumer group from a receipt's message id", () => {
    expect(receiptGroup(`receipt:receiver:${id(1)}`)).toBe("receiver");
    expect(receiptGroup(`receipt:receiver:${"ab".repeat(32)}`)).toBe("receiver");
    expect(receiptGroup("receipt:a:b:0193a5b2")).toBe("a:b");
    expect(receiptGroup(id(1))).toBeUndefined();
    expect(receiptGroup(undefined)).toBeUndefined();
  });

  it("names every row a receipt acknowledges: version 2 from its id properties, version 1 from its correlation id", () => {
    expect(
      acknowledgedIds({
        correlationId: undefined,
        properties: { version: 2, receipt_ids_0: `${id(1)},${id(2)}`, receipt_ids_1: id(3) },
      }),
    ).toEqual([id(1), id(2), id(3)]);
    expect(acknowledgedIds({ correlationId: id(4), properties: { version: 1 } })).toEqual([id(4)]);
    expect(acknowledgedIds({ correlationId: undefined, properties: {} })).toEqual([]);
  });
});
