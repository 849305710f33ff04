import { describe, expect, it } from "vitest";
import { receiptGroup } from "./receipt-dead-letter-routes.js";

describe("receipt dead letters", () => {
  it("reads the consumer group from a receipt's message id", () => {
    expect(receiptGroup("receipt:receiver:0193a5b2-7c4d-7e8f-9a0b-aaaaaaaaaaaa")).toBe("receiver");
    expect(receiptGroup("receipt:a:b:0193a5b2")).toBe("a:b");
    expect(receiptGroup("0193a5b2-7c4d-7e8f-9a0b-aaaaaaaaaaaa")).toBeUndefined();
    expect(receiptGroup(undefined)).toBeUndefined();
  });
});
