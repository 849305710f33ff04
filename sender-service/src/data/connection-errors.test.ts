import { describe, expect, it } from "vitest";
import { isTransientConnectionError } from "./connection-errors.js";

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
