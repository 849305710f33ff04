// The bench's own measuring tools: process-tree CPU/memory sampling against real processes, the
// target arithmetic and the SVG chart. The bench itself is never run by the tests.
import { spawn, type ChildProcess } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
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
    const { cpuPercent, rssMb, windowS } = sampler.stop();
    const treeCpuS = ((cpuPercent.tree ?? 0) / 100) * windowS;
    // 0.5 s each: the child alone (plus its start-up) stays well under 0.9 s.
    expect(treeCpuS).toBeGreaterThan(0.9);
    expect(rssMb.tree).toBeGreaterThan(0);
    // This process only waited: far less than the tree, although the tree is its descendant.
    expect(((cpuPercent.self ?? 0) / 100) * windowS).toBeLessThan(treeCpuS / 2);
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
