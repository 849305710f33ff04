import { describe, expect, it } from "vitest";
import { counts, type CountedModule } from "./support/summary-reporter.js";

function module(state: "passed" | "failed" | "skipped", tests: string[]): CountedModule {
  return {
    state: () => state,
    children: { allTests: () => tests.map((s) => ({ result: () => ({ state: s }) })) },
  };
}

describe("the closing summary line's counts", () => {
  it("counts a module whose beforeAll failed (its tests reported skipped) as a failure", () => {
    expect(counts([module("failed", Array<string>(7).fill("skipped"))], [])).toEqual({
      passed: 0,
      failed: 1,
      skipped: 7,
    });
  });

  it("counts failed tests once, a module that failed without tests once, and unhandled errors", () => {
    const modules = [
      module("failed", ["passed", "failed", "failed"]),
      module("passed", ["passed", "skipped"]),
      module("failed", []),
    ];
    expect(counts(modules, [new Error("late")])).toEqual({ passed: 2, failed: 4, skipped: 1 });
  });
});
