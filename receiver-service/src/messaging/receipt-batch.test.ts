import { describe, expect, it } from "vitest";
import type { IncomingEvent } from "../domain/events.js";
import { receiptEntries, type AppliedMessage } from "./receipt-batch.js";

const applied = (n: number, result: AppliedMessage["result"] = "applied"): AppliedMessage => ({
  event: { messageId: `m${n}`, aggregateId: `agg-${n}` } as IncomingEvent,
  result,
});

describe("receiptEntries", () => {
  it("names every applied message, in order, with its result", () => {
    expect(receiptEntries([applied(2), applied(1, "duplicate"), applied(3, "already-applied")])).toEqual([
      { messageId: "m2", aggregateId: "agg-2", result: "applied" },
      { messageId: "m1", aggregateId: "agg-1", result: "duplicate" },
      { messageId: "m3", aggregateId: "agg-3", result: "already-applied" },
    ]);
  });
});
