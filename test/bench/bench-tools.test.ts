// The bench's own measuring tools: process-tree CPU/memory sampling against real processes, the
// target arithmetic, CPU per message, the before/after ratios, the command line and the SVG chart.
// The bench itself is never run by the tests.
import { spawn, type ChildProcess } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { compareFigure, compareRounds, comparisonTable, median } from "./ab-compare.js";
import { parseBenchArgs } from "./bench-args.js";
import { cpuPerMessage, cpuPerMessageTable } from "./cpu-per-message.js";
import { latencyCurveSvg } from "./latency-chart.js";
import { ProcessSampler } from "./proc-stats.js";
import { checkTargets } from "./targets.js";

// Burns `ms` of its own CPU time, prints "done", then idles until killed.
const burner = (ms: number) =>
  `const s = process.cpuUsage(); while ((process.cpuUsage(s).user + process.cpuUsage(s).system) / 1000 < ${ms}) {} ` +
  `process.stdout.write("done\\n"); setInterval(() => {}, 1000);`;

const children: ChildProcess[] = [];
// Each child leads its own process group: killing the group also ends the grandchild, which would
// otherwise idle forever.
afterEach(() => {
  for (const child of children.splice(0)) {
    try {
      process.kill(-(child.pid ?? 0), "SIGKILL");
    } catch {
      // already gone
    }
  }
});

function waitForDone(child: ChildProcess, lines: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = 0;
    child.once("exit", (code) => reject(new Error(`burner exited early (${code})`)));
    child.stdout?.on("data", (chunk: Buffer) => {
      seen += chunk.toString().split("done").length - 1;
      if (seen >= lines) resolve();
    });
  });
}

describe("ProcessSampler", () => {
  it("counts the CPU of a whole process tree (child and grandchild), and only this process for itself", async () => {
    // The child starts a grandchild burner (stdout inherited) and burns as well.
    const script =
      `require("node:child_process").spawn(process.execPath, ["-e", ${JSON.stringify(burner(500))}], { stdio: ["ignore", "inherit", "inherit"] }); ` +
      burner(500);
    const child = spawn(process.execPath, ["-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
      detached: true,
    });
    children.push(child);
    expect(child.pid).toBeTypeOf("number");
    const sampler = new ProcessSampler({ tree: child.pid ?? null, self: process.pid }, 100);
    await waitForDone(child, 2);
    const { cpuPercent, cpuSeconds, rssMb, windowS } = sampler.stop();
    const treeCpuS = ((cpuPercent.tree ?? 0) / 100) * windowS;
    // The exact CPU seconds and the rounded percentage tell the same story.
    expect(cpuSeconds.tree).toBeGreaterThan(0.9);
    expect(Math.abs((cpuSeconds.tree ?? 0) - treeCpuS)).toBeLessThan(0.05);
    // 0.5 s each: the child alone (plus its start-up) stays well under 0.9 s.
    expect(treeCpuS).toBeGreaterThan(0.9);
    expect(rssMb.tree).toBeGreaterThan(0);
    // This process only waited: far less than the tree, although the tree is its descendant.
    expect(((cpuPercent.self ?? 0) / 100) * windowS).toBeLessThan(treeCpuS / 2);
  }, 60_000);

  it("reads the window so far without stopping, and stop() then covers the whole window", async () => {
    const child = spawn(process.execPath, ["-e", burner(300)], {
      stdio: ["ignore", "pipe", "inherit"],
      detached: true,
    });
    children.push(child);
    const sampler = new ProcessSampler({ tree: child.pid ?? null }, 100);
    const before = sampler.read();
    await waitForDone(child, 1);
    const after = sampler.stop();
    expect(before.cpuSeconds.tree ?? 0).toBeLessThan(after.cpuSeconds.tree ?? 0);
    expect(after.cpuSeconds.tree).toBeGreaterThan(0.25);
    expect(after.windowS).toBeGreaterThan(before.windowS);
  }, 60_000);

  it("leaves out a component that is not running", () => {
    const sampler = new ProcessSampler({ gone: null });
    const { cpuPercent, rssMb } = sampler.stop();
    expect(cpuPercent).toEqual({});
    expect(rssMb).toEqual({});
  });
});

describe("checkTargets", () => {
  const base = {
    e2eVsMinRaw: 0.6,
    vsPeerDefault: 12,
    vsPeerTuned: 1.5,
    publishP99AtHalf: 20,
    e2eP99AtHalf: 20,
    backlogVsRawBroker: 0.5,
    telemetryOnVsOff: null,
    scaleCost1mVs10k: 1.1,
    idleCpuPercent: 0.5,
    lost: 0,
    duplicates: 1,
  };

  it("reports at-least and at-most targets with ratio ≥ 1 meaning met", () => {
    const t = checkTargets(base);
    expect(t.e2e_vs_min_raw).toEqual({ value: 0.6, target: 0.5, ratio: 1.2, met: true });
    expect(t.vs_peer_tuned).toEqual({ value: 1.5, target: 2, ratio: 0.75, met: false });
    expect(t.publish_p99_at_half_ms).toEqual({ value: 20, target: 10, ratio: 0.5, met: false });
    expect(t.e2e_p99_at_half_ms.met).toBe(true);
    expect(t.backlog_relay_vs_raw_broker.met).toBe(true);
    expect(t.scale_cost_1m_vs_10k.met).toBe(true);
    expect(t.idle_cpu_percent).toEqual({ value: 0.5, target: 1, ratio: 2, met: true });
    expect(t.duplicates_applied.met).toBe(false);
  });

  it("says 'no figure' (null) instead of met or missed when a value is missing", () => {
    expect(checkTargets(base).telemetry_on_vs_off).toEqual({
      value: null,
      target: 0.8,
      ratio: null,
      met: null,
    });
    expect(checkTargets({ ...base, e2eP99AtHalf: Number.NaN }).e2e_p99_at_half_ms.met).toBeNull();
  });
});

describe("latencyCurveSvg", () => {
  it("draws one polyline per percentile through every finite point", () => {
    const svg = latencyCurveSvg(
      [
        { rate: 10, p50: 5, p99: 12 },
        { rate: 20, p50: 6, p99: 30 },
        { rate: 30, p50: Number.NaN, p99: Number.NaN },
        { rate: 40, p50: 50, p99: 400 },
      ],
      "a <test> & run",
    );
    expect(svg.startsWith("<svg ")).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    const polylines = [...svg.matchAll(/<polyline [^>]*points="([^"]*)"/g)].map((m) => m[1]?.split(" "));
    expect(polylines).toHaveLength(2);
    for (const points of polylines) expect(points).toHaveLength(3);
    expect(svg).toContain("a &lt;test&gt; &amp; run");
    expect(svg).not.toContain("NaN");
  });
});

describe("cpuPerMessage", () => {
  it("divides each component's CPU seconds by the messages applied, in µs, with the PostgreSQL and stack sums", () => {
    const perMsg = cpuPerMessage(
      { sender: 1, receiver: 0.5, "sender-pg": 0.25, "receiver-pg": 0.25, broker: 2, "load-generator": 3 },
      10_000,
    );
    expect(perMsg).toEqual({
      sender: 100,
      receiver: 50,
      "sender-pg": 25,
      "receiver-pg": 25,
      broker: 200,
      postgres: 50,
      // The bench's own HTTP client is not part of the stack's cost.
      stack: 400,
      "load-generator": 300,
    });
  });

  it("gives no figure for a window where nothing was applied, and refuses a bad count", () => {
    expect(cpuPerMessage({ sender: 1 }, 0)).toEqual({});
    expect(() => cpuPerMessage({ sender: 1 }, -1)).toThrow(/whole number/);
    expect(() => cpuPerMessage({ sender: 1 }, 1.5)).toThrow(/whole number/);
  });

  it("leaves out a component that was not sampled, from the rows and from the sums", () => {
    expect(cpuPerMessage({ sender: 0.001, broker: 0.002 }, 1)).toEqual({
      sender: 1000,
      broker: 2000,
      stack: 3000,
    });
  });

  it("prints one row per component and one column per measurement, '—' where a column has none", () => {
    const table = cpuPerMessageTable({
      "max load": { sender: 100, stack: 400 },
      // A median of two sums: printed to one decimal.
      backlog: { sender: 40, receiver: 872.9000000000001, stack: 100 },
    });
    const lines = table.split("\n");
    expect(lines[0]).toMatch(/^µs CPU per applied message\s+max load\s+backlog$/);
    expect(lines.slice(1).map((l) => l.split(/\s{2,}/))).toEqual([
      ["sender", "100", "40"],
      ["receiver", "—", "872.9"],
      ["stack", "400", "100"],
    ]);
  });
});

describe("before/after comparison", () => {
  it("takes the median of each side's rounds and the spread of the per-round ratios", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([Number.NaN])).toBeNull();
    const f = compareFigure("higher", [110, 120, 90], [100, 100, 100]);
    expect(f).toMatchObject({
      current_median: 110,
      baseline_median: 100,
      ratio: 1.1,
      ratio_min: 0.9,
      ratio_max: 1.2,
    });
    // One round went the other way: not a verdict.
    expect(f.verdict).toBe("noise");
  });

  it("says better or worse only when every round of at least three agrees, in the figure's own direction", () => {
    expect(compareFigure("higher", [110, 105, 101], [100, 100, 100]).verdict).toBe("better");
    expect(compareFigure("higher", [90, 95, 99], [100, 100, 100]).verdict).toBe("worse");
    // Latency and CPU: lower is better.
    expect(compareFigure("lower", [90, 95, 99], [100, 100, 100]).verdict).toBe("better");
    expect(compareFigure("lower", [110, 105, 101], [100, 100, 100]).verdict).toBe("worse");
    // Two rounds agree by chance too often to call it.
    expect(compareFigure("lower", [110, 105], [100, 100]).verdict).toBe("noise");
    expect(compareFigure("lower", [Number.NaN], [0]).verdict).toBe("no figure");
    expect(() => compareFigure("lower", [1, 2], [1])).toThrow(/rounds differ/);
  });

  it("compares every key either side has; a key missing in a round is no figure there, not 0", () => {
    const base = { a_per_s: 10, b_ms: 10, c_ms: 10 };
    const figures = compareRounds(
      [
        { a_per_s: 10, b_ms: 5, c_ms: 5 },
        { a_per_s: 12, b_ms: 4, c_ms: 5 },
        { a_per_s: 13, c_ms: 5 },
      ],
      [base, base, base],
      (key) => (key.endsWith("_per_s") ? "higher" : "lower"),
    );
    // One round at 1.0: not better in every round.
    expect(figures.a_per_s).toMatchObject({ ratio: 1.2, ratio_min: 1, ratio_max: 1.3, verdict: "noise" });
    // Counted as 0, the missing round would make the median 4 and the ratio 0.4.
    expect(figures.b_ms).toMatchObject({ current_median: 4.5, ratio: 0.45, verdict: "noise" });
    expect(figures.c_ms).toMatchObject({ ratio: 0.5, ratio_min: 0.5, ratio_max: 0.5, verdict: "better" });
    const table = comparisonTable(figures, { a_per_s: "rate" });
    expect(table).toMatch(/^rate\s+12\s+10\s+1\.20\s+1\.00–1\.30\s+noise \(higher is better\)$/m);
    expect(table).toMatch(/^c_ms\s+5\s+10\s+0\.50\s+0\.50–0\.50\s+better \(lower is better\)$/m);
  });
});

describe("parseBenchArgs", () => {
  it("reads the flags, --baseline with or without a ref, and --rounds", () => {
    expect(parseBenchArgs([])).toEqual({
      quick: false,
      json: false,
      help: false,
      baseline: null,
      rounds: null,
      transport: null,
    });
    expect(parseBenchArgs(["--quick", "--baseline", "--json"])).toMatchObject({
      quick: true,
      json: true,
      baseline: { ref: null },
    });
    expect(parseBenchArgs(["--baseline", "HEAD~1", "--quick"]).baseline).toEqual({ ref: "HEAD~1" });
    expect(parseBenchArgs(["--baseline=v1.2", "--rounds", "4"])).toMatchObject({
      baseline: { ref: "v1.2" },
      rounds: 4,
    });
    expect(parseBenchArgs(["--baseline", "--rounds=1"]).rounds).toBe(1);
  });

  it("reads --transport (kafka or artemis) and refuses any other or one with --baseline", () => {
    expect(parseBenchArgs(["--transport", "kafka", "--quick"])).toMatchObject({
      transport: "kafka",
      quick: true,
    });
    expect(parseBenchArgs(["--transport=artemis"]).transport).toBe("artemis");
    expect(() => parseBenchArgs(["--transport", "rabbit"])).toThrow(
      /--transport must be one of artemis, kafka/,
    );
    expect(() => parseBenchArgs(["--transport"])).toThrow(/got nothing/);
    expect(() => parseBenchArgs(["--transport", "kafka", "--baseline"])).toThrow(
      /does not apply with --baseline/,
    );
  });

  it("refuses an unknown flag, a bad round count and --rounds without --baseline", () => {
    expect(() => parseBenchArgs(["--quik"])).toThrow(/unknown argument "--quik"/);
    expect(() => parseBenchArgs(["--baseline", "--rounds", "0"])).toThrow(/--rounds must be/);
    expect(() => parseBenchArgs(["--baseline", "--rounds"])).toThrow(/got nothing/);
    expect(() => parseBenchArgs(["--baseline="])).toThrow(/needs a git ref/);
    expect(() => parseBenchArgs(["--rounds", "2"])).toThrow(/only applies with --baseline/);
  });
});
