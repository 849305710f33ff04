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
