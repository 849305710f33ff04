import { describe, expect, it } from "vitest";
import { isTransientConnectionError, retryWhileUnreachable } from "./postgres-availability.js";

const withCode = (code: string, message = "boom") => Object.assign(new Error(message), { code });

describe("isTransientConnectionError", () => {
  it("recognises connection failures, also when wrapped by drizzle", () => {
    expect(isTransientConnectionError(withCode("ECONNREFUSED"))).toBe(true);
    expect(isTransientConnectionError(withCode("57P03"))).toBe(true);
    expect(isTransientConnectionError(new Error("Connection terminated unexpectedly"))).toBe(true);
    expect(
      isTransientConnectionError(new Error("Failed query: select 1", { cause: withCode("ECONNRESET") })),
    ).toBe(true);
  });

  it("does not excuse query errors or non-errors", () => {
    expect(isTransientConnectionError(withCode("23505", "duplicate key"))).toBe(false);
    expect(isTransientConnectionError(withCode("28P01", "password authentication failed"))).toBe(false);
    expect(isTransientConnectionError("ECONNREFUSED")).toBe(false);
    expect(isTransientConnectionError(undefined)).toBe(false);
  });
});

describe("retryWhileUnreachable", () => {
  it("retries while the database is starting or recovering, then succeeds", async () => {
    let calls = 0;
    const retries: number[] = [];
    await retryWhileUnreachable(
      () => {
        calls += 1;
        return calls < 3
          ? Promise.reject(withCode("57P03", "the database system is in recovery mode"))
          : Promise.resolve();
      },
      { waitMs: 10_000, onRetry: (_, attempt) => retries.push(attempt) },
    );
    expect(calls).toBe(3);
    expect(retries).toEqual([1, 2]);
  });

  it("throws a non-transient failure at once, and a transient one after the wait", async () => {
    let calls = 0;
    const bad = withCode("28P01", "password authentication failed");
    await expect(
      retryWhileUnreachable(
        () => {
          calls += 1;
          return Promise.reject(bad);
        },
        { waitMs: 10_000, onRetry: () => {} },
      ),
    ).rejects.toBe(bad);
    expect(calls).toBe(1);
    const down = withCode("ECONNREFUSED");
    await expect(
      retryWhileUnreachable(() => Promise.reject(down), { waitMs: 0, onRetry: () => {} }),
    ).rejects.toBe(down);
  });
});
