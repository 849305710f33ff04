import { describe, expect, it } from "vitest";
import { failedChecks, MUST_BE_ZERO } from "./run-soak.js";

const clean = Object.fromEntries(MUST_BE_ZERO.map((check) => [check, 0])) as Record<
  (typeof MUST_BE_ZERO)[number],
  number
>;

describe("the soak's verdict", () => {
  it("passes when every check is 0", () => {
    expect(failedChecks(clean)).toEqual([]);
  });

  it("fails on a second copy on the queue, and when the witness missed a row", () => {
    expect(failedChecks({ ...clean, copies_on_queue: 1 })).toEqual(["copies_on_queue"]);
    expect(failedChecks({ ...clean, witness_missing: 3 })).toEqual(["witness_missing"]);
  });
});

describe("the soak's verdict on Kafka", () => {
  it("counts a second record on the topic without failing (the inbox skips it), but still fails on a row the witness missed", () => {
    expect(failedChecks({ ...clean, copies_on_queue: 2 }, "kafka")).toEqual([]);
    expect(failedChecks({ ...clean, witness_missing: 1 }, "kafka")).toEqual(["witness_missing"]);
    expect(failedChecks({ ...clean, duplicates_applied: 1 }, "kafka")).toEqual(["duplicates_applied"]);
  });
});
