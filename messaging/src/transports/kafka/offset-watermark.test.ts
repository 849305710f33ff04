import { describe, expect, it } from "vitest";
import { OffsetWatermark } from "./offset-watermark.js";

describe("OffsetWatermark", () => {
  it("commits up to the first offset not done, whatever order they are settled in", () => {
    const w = new OffsetWatermark();
    for (const offset of [5n, 6n, 7n, 8n]) expect(w.take(offset)).toBe(true);
    expect(w.done(7n)).toBe(true);
    expect(w.advance()).toBeUndefined();
    expect(w.done(5n)).toBe(true);
    expect(w.advance()).toBe(6n);
    expect(w.done(6n)).toBe(true);
    expect(w.advance()).toBe(8n);
    expect(w.pending()).toBe(1);
    expect(w.done(8n)).toBe(true);
    expect(w.advance()).toBe(9n);
    expect(w.advance()).toBeUndefined();
  });

  it("skips gaps in the offsets (only taken offsets count)", () => {
    const w = new OffsetWatermark();
    w.take(10n);
    w.take(14n);
    w.done(14n);
    expect(w.advance()).toBeUndefined();
    w.done(10n);
    expect(w.advance()).toBe(15n);
  });

  it("refuses an offset taken already or below the commit (a refetch after a rebalance)", () => {
    const w = new OffsetWatermark();
    w.take(3n);
    w.take(4n);
    expect(w.take(3n)).toBe(false);
    expect(w.take(4n)).toBe(false);
    w.done(3n);
    w.advance();
    expect(w.take(2n)).toBe(false);
    expect(w.take(5n)).toBe(true);
  });

  it("marks an offset done once, and none it never took", () => {
    const w = new OffsetWatermark();
    w.take(1n);
    expect(w.done(2n)).toBe(false);
    expect(w.done(1n)).toBe(true);
    expect(w.done(1n)).toBe(false);
  });
});
