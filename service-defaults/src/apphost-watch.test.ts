import { describe, expect, it, vi } from "vitest";
import { watchAppHost } from "./apphost-watch.js";

describe("watchAppHost", () => {
  it("calls onGone once when the parent is no longer the AppHost", () => {
    vi.useFakeTimers();
    try {
      let parent = 4242;
      const onGone = vi.fn();
      const stop = watchAppHost({ apphostPid: "4242", onGone, intervalMs: 100, parentPid: () => parent });
      expect(stop).toBeTypeOf("function");
      vi.advanceTimersByTime(500);
      expect(onGone).not.toHaveBeenCalled();
      parent = 1;
      vi.advanceTimersByTime(100);
      expect(onGone).toHaveBeenCalledTimes(1);
      vi.advanceTimersByTime(1_000);
      expect(onGone).toHaveBeenCalledTimes(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it("watches nothing without an AppHost pid, with a bad one, or when another process is the parent", () => {
    const onGone = vi.fn();
    expect(watchAppHost({ apphostPid: undefined, onGone })).toBeUndefined();
    expect(watchAppHost({ apphostPid: "abc", onGone })).toBeUndefined();
    expect(watchAppHost({ apphostPid: "-3", onGone })).toBeUndefined();
    // Started through a wrapper (npm, a shell): the AppHost is not the direct parent.
    expect(watchAppHost({ apphostPid: "4242", onGone, parentPid: () => 777 })).toBeUndefined();
  });
});
