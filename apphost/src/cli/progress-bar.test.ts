import { describe, expect, it } from "vitest";
import { formatBytes, formatDuration, ProgressBar } from "./progress-bar.js";
import { Terminal } from "./terminal.js";

describe("ProgressBar", () => {
  it("shows bytes, rate and time left for an HTTPS download", () => {
    let now = 1_000_000;
    const bar = new ProgressBar(10, () => now);
    const event = { what: "Artemis 2.56.0", via: "https" as const, totalBytes: 64 * 1048576, done: false };
    bar.render({ ...event, receivedBytes: 0 });
    now += 4000;
    const line = bar.render({ ...event, receivedBytes: 16 * 1048576 });
    expect(line).toBe("Artemis 2.56.0 [###-------]  25%  16.0 MB / 64.0 MB  4.0 MB/s  12s left");
    now += 12_000;
    expect(bar.render({ ...event, receivedBytes: 64 * 1048576, done: true })).toBe(
      "Artemis 2.56.0: downloaded 64.0 MB in 16s (4.0 MB/s)",
    );
  });

  it("says Maven is working when no byte counts exist, and copes with an unknown size", () => {
    let now = 0;
    const bar = new ProgressBar(10, () => now);
    bar.render({ what: "A", via: "maven", receivedBytes: 0, done: false });
    now = 65_000;
    expect(bar.render({ what: "A", via: "maven", receivedBytes: 0, done: false })).toContain(
      "downloading with Maven (1m05s",
    );
    expect(bar.render({ what: "A", via: "https", receivedBytes: 2048, done: false })).toMatch(/^A: 2\.0 KB/);
  });

  it("formats sizes and durations", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.5 KB");
    expect(formatDuration(undefined)).toBe("--");
    expect(formatDuration(59.4)).toBe("59s");
    expect(formatDuration(3600)).toBe("60m00s");
  });
});

describe("Terminal", () => {
  function fakeOut(isTTY: boolean) {
    const writes: string[] = [];
    return { writes, out: { isTTY, write: (text: string) => (writes.push(text), true) } };
  }

  it("redraws one status line in place on a terminal and keeps lines above it", () => {
    const { writes, out } = fakeOut(true);
    const terminal = new Terminal(out, 0);
    terminal.setStatus("10%");
    terminal.line("✓ broker");
    terminal.setStatus("done", true);
    expect(writes).toEqual(["\r\x1b[2K10%", "\r\x1b[2K✓ broker\n10%", "\r\x1b[2Kdone\n"]);
  });

  it("prints only the final status when the output is not a terminal (log files stay clean)", () => {
    const { writes, out } = fakeOut(false);
    const terminal = new Terminal(out, 0);
    terminal.setStatus("10%");
    terminal.setStatus("50%");
    terminal.line("✓ broker");
    terminal.setStatus("done", true);
    expect(writes).toEqual(["✓ broker\n", "done\n"]);
  });
});
