import { describe, expect, it } from "vitest";
import { classifyError, describeError, sqlState } from "./classify-error.js";

function pgError(code: string, message = "boom"): Error {
  return Object.assign(new Error(message), { code });
}

/** drizzle 0.45 wraps driver errors like this. */
function wrapped(cause: Error): Error {
  return new Error("Failed query: insert into x values ($1)\nparams: secret", { cause });
}

describe("classifyError", () => {
  it.each([
    [
      "connection refused",
      Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" }),
    ],
    ["connection terminated", new Error("Connection terminated unexpectedly")],
    ["pool timeout", new Error("timeout exceeded when trying to connect")],
    ["admin shutdown", pgError("57P01")],
    ["cannot connect now", pgError("57P03")],
    ["serialization failure", pgError("40001")],
    ["deadlock", pgError("40P01")],
    ["too many connections", pgError("53300")],
    ["connection exception", pgError("08006")],
    ["connection failure at connect", pgError("08001")],
    ["crash shutdown", pgError("57P02")],
    ["idle session timeout", pgError("57P05")],
    [
      "host not found (failover)",
      Object.assign(new Error("getaddrinfo ENOTFOUND db"), { code: "ENOTFOUND" }),
    ],
    ["name lookup timed out", Object.assign(new Error("getaddrinfo EAI_AGAIN db"), { code: "EAI_AGAIN" })],
    ["query read timeout", new Error("Query read timeout")],
    ["missing table (deploy problem, fixable)", pgError("42P01")],
    ["wrapped serialization failure", wrapped(pgError("40001"))],
    ["not an Error", "weird"],
  ])("transient: %s", (_name, error) => {
    expect(classifyError(error)).toBe("transient");
  });

  it.each([
    ["invalid datetime value", pgError("22007")],
    ["string too long", pgError("22001")],
    ["not-null violation", pgError("23502")],
    ["wrapped check violation", wrapped(pgError("23514"))],
  ])("poison: %s", (_name, error) => {
    expect(classifyError(error)).toBe("poison");
  });
});

describe("sqlState / describeError", () => {
  it("finds the SQLSTATE through drizzle's wrapper and ignores errno-style codes", () => {
    expect(sqlState(wrapped(pgError("40001")))).toBe("40001");
    expect(sqlState(Object.assign(new Error("x"), { code: "ECONNREFUSED" }))).toBeUndefined();
  });

  it("describes the driver error, not the query and its parameters", () => {
    const text = describeError(wrapped(pgError("23502", 'null value in column "name"')));
    expect(text).toBe('[23502] null value in column "name"');
    expect(text).not.toContain("secret");
  });
});
