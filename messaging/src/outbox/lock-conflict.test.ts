import { describe, expect, it, vi } from "vitest";
import { isLockConflict, retryOnLockConflict } from "./lock-conflict.js";

const pgError = (code: string): Error => Object.assign(new Error(`pg error ${code}`), { code });
/** drizzle wraps the driver's error: "Failed query: ..." with the pg error as its cause. */
const wrapped = (code: string): Error =>
  new Error("Failed query: update outbox_messages", { cause: pgError(code) });

describe("isLockConflict", () => {
  it("recognises deadlocks and serialization failures, also wrapped", () => {
    expect(isLockConflict(pgError("40P01"))).toBe(true);
    expect(isLockConflict(wrapped("40P01"))).toBe(true);
    expect(isLockConflict(wrapped("40001"))).toBe(true);
  });

  it("does not take other errors for conflicts", () => {
    expect(isLockConflict(wrapped("23505"))).toBe(false);
    expect(isLockConflict(new Error("connect ECONNREFUSED"))).toBe(false);
    expect(isLockConflict("40P01")).toBe(false);
  });
});

describe("retryOnLockConflict", () => {
  it("runs the statement again after a deadlock and returns its result", async () => {
    const statement = vi
      .fn<() => Promise<string>>()
      .mockRejectedValueOnce(wrapped("40P01"))
      .mockRejectedValueOnce(wrapped("40001"))
      .mockResolvedValue("marked");
    await expect(retryOnLockConflict(statement, { delayMs: 1 })).resolves.toBe("marked");
    expect(statement).toHaveBeenCalledTimes(3);
  });

  it("throws any other error at once", async () => {
    const statement = vi.fn<() => Promise<string>>().mockRejectedValue(wrapped("08006"));
    await expect(retryOnLockConflict(statement, { delayMs: 1 })).rejects.toThrow("Failed query");
    expect(statement).toHaveBeenCalledTimes(1);
  });

  it("gives up after the last attempt with the conflict", async () => {
    const statement = vi.fn<() => Promise<string>>().mockRejectedValue(wrapped("40P01"));
    await expect(retryOnLockConflict(statement, { attempts: 3, delayMs: 1 })).rejects.toSatisfy(
      isLockConflict,
    );
    expect(statement).toHaveBeenCalledTimes(3);
  });

  it("refuses a meaningless attempt count", async () => {
    await expect(retryOnLockConflict(() => Promise.resolve(1), { attempts: 0 })).rejects.toThrow(RangeError);
  });
});
