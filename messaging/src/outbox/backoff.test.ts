import { describe, expect, it } from "vitest";
import { backoffDelayMs } from "./backoff.js";

const policy = { minMs: 100, maxMs: 10_000 };

describe("backoffDelayMs", () => {
  it("doubles the base per failure and keeps at least half of it", () => {
    expect(backoffDelayMs(1, policy, () => 0)).toBe(50);
    expect(backoffDelayMs(1, policy, () => 0.999999)).toBe(100);
    expect(backoffDelayMs(2, policy, () => 0)).toBe(100);
    expect(backoffDelayMs(3, policy, () => 0.999999)).toBe(400);
  });

  it("never exceeds the cap, however many failures", () => {
    for (const failures of [8, 20, 1_000, Number.MAX_SAFE_INTEGER]) {
      const d = backoffDelayMs(failures, policy, () => 0.999999);
      expect(d).toBeLessThanOrEqual(10_000);
      expect(d).toBeGreaterThanOrEqual(5_000);
    }
  });

  it("treats nonsense failure counts as the first failure", () => {
    for (const failures of [0, -3, Number.NaN]) {
      expect(backoffDelayMs(failures, policy, () => 0)).toBe(50);
    }
  });

  it("spreads delays between half the base and the base", () => {
    const delays = Array.from({ length: 200 }, () => backoffDelayMs(4, policy));
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(400);
    expect(Math.max(...delays)).toBeLessThanOrEqual(800);
    expect(new Set(delays).size).toBeGreaterThan(10);
  });

  it("honours a custom factor and a cap below the minimum", () => {
    expect(backoffDelayMs(3, { minMs: 100, maxMs: 10_000, factor: 3 }, () => 0.999999)).toBe(900);
    expect(backoffDelayMs(5, { minMs: 500, maxMs: 100 }, () => 0.999999)).toBe(500);
  });
});
