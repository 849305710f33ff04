import type { Reporter, TestModule } from "vitest/node";

export interface RunCounts {
  passed: number;
  failed: number;
  skipped: number;
}

/** What `counts` reads of a test module (vitest's TestModule has it all). */
export type CountedModule = Pick<TestModule, "state"> & {
  children: { allTests(): Iterable<{ result(): { state: string } }> };
};

/**
 * Tests by outcome. A module that failed while none of its tests did (a failing beforeAll hook,
 * an import that throws, a module without tests) counts one failure: its tests are reported
 * skipped, and "0 failed" would read as a green run.
 */
export function counts(
  testModules: ReadonlyArray<CountedModule>,
  unhandledErrors: ReadonlyArray<unknown>,
): RunCounts {
  const result: RunCounts = { passed: 0, failed: unhandledErrors.length, skipped: 0 };
  for (const module of testModules) {
    let failedTests = 0;
    for (const test of module.children.allTests()) {
      const state = test.result().state;
      if (state === "passed") result.passed += 1;
      else if (state === "failed") failedTests += 1;
      else result.skipped += 1;
    }
    result.failed += failedTests;
    if (module.state() === "failed" && failedTests === 0) result.failed += 1;
  }
  return result;
}

/**
 * Prints one plain closing line, "N passed, N failed, N skipped", that CI systems can read without
 * understanding vitest's coloured summary.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    const { passed, failed, skipped } = counts(testModules, unhandledErrors);
    // vitest's own summary is printed after all reporters' hooks; "exit" comes after it.
    process.once("exit", () =>
      process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`),
    );
  }
}
