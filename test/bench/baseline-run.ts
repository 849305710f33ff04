// `npm run bench -- --baseline [<ref>]`: the services of another commit against this tree's, in one
// run. Two stacks run side by side, both from this tree's model and AppHost: the current one with
// this checkout as project root, the baseline one with a temporary worktree of <ref> as root, so its
// sender and receiver (and their migrations and node_modules) are the baseline's. Each phase runs
// on one stack and then on the other, the side that goes first alternating from round to round, so
// that noise on the shared machine hits both alike; the figures are compared as ratios.
import { execFileSync } from "node:child_process";
import os from "node:os";
import type { AppBuilder, DistributedApplication } from "@outbox/apphost";
import { startTestApp, stopTestApp } from "@outbox/apphost/testing";
import { openDatabase } from "../support/relay-harness.js";
import { compareRounds, comparisonTable, type Better, type RoundFigures } from "./ab-compare.js";
import { createBaselineWorktree, resolveBaselineRef, type BaselineWorktree } from "./baseline.js";
import { cpuPerMessageTable, type CpuPerMessage } from "./cpu-per-message.js";
import {
  backlogDrain,
  driveLoad,
  e2eLatency,
  idleCpu,
  maxLoad,
  publishLatency,
  round,
  say,
  waitApplied,
  warmUpAfterRestart,
} from "./scenarios.js";

export interface BaselineComparisonOptions {
  repoRoot: string;
  ref: string | null;
  rounds: number;
  json: boolean;
  settings: { loadS: number; halfLoadS: number; idleS: number; backlog: number; concurrency: number };
  /** A fresh model per stack (a model is started once). */
  model: () => AppBuilder;
}

type Side = "current" | "baseline";

interface Stack {
  side: Side;
  app: DistributedApplication;
  pool: ReturnType<typeof openDatabase>["pool"];
  /** Every entity id created on this stack, with how often it was applied. */
  counts: Map<string, number>;
  ids: string[];
  rounds: RoundFigures[];
}

/** Figure labels in print order; the per-component CPU keys are added after these. */
const LABELS: Record<string, string> = {
  e2e_msgs_per_s: "end-to-end at max load (applied/s)",
  post_rate_per_s: "POST rate at max load (/s)",
  publish_p50_ms: "commit→accepted p50 at half load (ms)",
  publish_p99_ms: "commit→accepted p99 at half load (ms)",
  e2e_p50_ms: "commit→applied p50 at half load (ms)",
  e2e_p99_ms: "commit→applied p99 at half load (ms)",
  backlog_relay_msgs_per_s: "backlog: relay publish rate (msgs/s)",
  backlog_e2e_msgs_per_s: "backlog: end-to-end (applied/s)",
  idle_sender_cpu_percent: "sender CPU idle (%)",
};

function betterOf(key: string): Better {
  return key.endsWith("_per_s") ? "higher" : "lower";
}

function cpuFigures(prefix: string, cpu: CpuPerMessage): RoundFigures {
  return Object.fromEntries(Object.entries(cpu).map(([k, v]) => [`${prefix}.${k}`, v]));
}

function gitLine(repoRoot: string, args: string[]): string {
  return execFileSync("git", args, { cwd: repoRoot, encoding: "utf8" }).trim();
}

export async function runBaselineComparison(options: BaselineComparisonOptions): Promise<void> {
  const started = Date.now();
  const { settings } = options;
  const baselineRef = await resolveBaselineRef(options.repoRoot, options.ref);
  const currentCommit = gitLine(options.repoRoot, ["rev-parse", "HEAD"]);
  const currentDirty = gitLine(options.repoRoot, ["status", "--porcelain", "--untracked-files=no"]) !== "";
  say(
    `baseline ${baselineRef.ref} = ${baselineRef.commit.slice(0, 10)} "${baselineRef.subject}"; current ${currentCommit.slice(0, 10)}${currentDirty ? " + uncommitted changes" : ""}`,
  );

  // Everything made so far, undone in reverse order at the end, on failure and on Ctrl+C. Each
  // undo is registered before what it undoes is awaited, so an interrupt mid-start is covered too.
  const cleanups: Array<() => Promise<void>> = [];
  let stopping = false;
  // One queue of clean-ups: the signal handler and the main flow's `finally` both wait for the
  // same work, so neither exits while the other is still stopping a stack.
  let cleaning: Promise<void> = Promise.resolve();
  const cleanUp = (): Promise<void> =>
    (cleaning = cleaning.then(async () => {
      // What the main flow adds while this runs is undone too.
      while (cleanups.length > 0)
        for (const undo of cleanups.splice(0).reverse()) await undo().catch(() => undefined);
    }));
  /** Between phases: an interrupt ends the run here rather than starting the next phase. */
  const checkpoint = (): void => {
    if (stopping) throw new Error("interrupted by a signal");
  };
  const interrupted = (signal: NodeJS.Signals): void => {
    stopping = true;
    say(`${signal}: stopping both stacks and removing the baseline worktree`);
    void cleanUp().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  };
  process.once("SIGINT", interrupted);
  process.once("SIGTERM", interrupted);
  try {
    const worktree: BaselineWorktree = await createBaselineWorktree(options.repoRoot, baselineRef.commit, {
      log: say,
      onCreated: (remove) => cleanups.push(remove),
    });
    checkpoint();

    const start = async (side: Side, rootDir: string): Promise<Stack> => {
      say(`starting the ${side} stack (services from ${rootDir})`);
      const starting = startTestApp({ model: options.model(), rootDir });
      const opened: { pool?: Stack["pool"] } = {};
      cleanups.push(async () => {
        const app = await starting;
        await opened.pool?.end();
        await stopTestApp(app);
      });
      const app = await starting;
      const { pool } = openDatabase(app.getConnectionString("senderdb"));
      opened.pool = pool;
      checkpoint();
      return { side, app, pool, counts: new Map(), ids: [], rounds: [] };
    };
    // One after the other: two starts at once would each slow the other past its timeout.
    const current = await start("current", options.repoRoot);
    const baseline = await start("baseline", worktree.dir);
    const stacks = [current, baseline];
    for (const stack of stacks)
      await warmUpAfterRestart(stack.app.getEndpoint("sender"), "warmup", settings.concurrency);

    const record = (stack: Stack, ids: string[], counts: Map<string, number>) => {
      stack.ids.push(...ids);
      for (const [id, n] of counts) stack.counts.set(id, n);
    };

    for (let r = 0; r < options.rounds; r++) {
      // Alternate who goes first: a drift over the run (caches, other load) then cancels out.
      const order = r % 2 === 0 ? stacks : [...stacks].reverse();
      const figures = new Map<Side, RoundFigures>(stacks.map((s) => [s.side, {}]));
      const add = (stack: Stack, more: RoundFigures) => Object.assign(figures.get(stack.side) ?? {}, more);

      const maxRates = new Map<Side, number>();
      for (const stack of order) {
        checkpoint();
        say(`round ${r + 1}/${options.rounds} ${stack.side}: max load for ${settings.loadS} s`);
        const max = await maxLoad(stack.app, settings.loadS, `r${r}-load`, settings.concurrency);
        record(stack, max.load.ids, max.applied.counts);
        maxRates.set(stack.side, max.e2eRate);
        add(stack, {
          e2e_msgs_per_s: round(max.e2eRate),
          post_rate_per_s: round(max.load.ids.length / ((max.load.endedAt - max.load.startedAt) / 1000)),
          ...cpuFigures("cpu_us_per_msg", max.cpuPerMsg),
        });
      }
      // Latency at the same offered rate on both sides: half the slower side's maximum.
      const halfRate = Math.max(1, Math.floor(Math.min(...maxRates.values()) / 2));
      for (const stack of order) {
        checkpoint();
        say(`round ${r + 1} ${stack.side}: ${halfRate} POSTs/s for ${settings.halfLoadS} s`);
        const half = await driveLoad(stack.app.getEndpoint("sender"), settings.halfLoadS, {
          concurrency: settings.concurrency,
          ratePerS: halfRate,
          prefix: `r${r}-half`,
        });
        const applied = await waitApplied(stack.app.getConnectionString("receiverdb"), half.ids, 60_000);
        record(stack, half.ids, applied.counts);
        const publish = await publishLatency(stack.app.getConnectionString("senderdb"), half.ids);
        const e2e = await e2eLatency(stack.app.getConnectionString("receiverdb"), half.ids);
        add(stack, {
          publish_p50_ms: publish.p50,
          publish_p99_ms: publish.p99,
          e2e_p50_ms: e2e.p50,
          e2e_p99_ms: e2e.p99,
        });
      }
      for (const stack of order) {
        checkpoint();
        say(`round ${r + 1} ${stack.side}: backlog of ${settings.backlog} rows`);
        const backlog = await backlogDrain(stack.app, stack.pool, settings.backlog);
        const applied = await waitApplied(stack.app.getConnectionString("receiverdb"), backlog.ids, 10_000);
        record(stack, backlog.ids, applied.counts);
        add(stack, {
          backlog_relay_msgs_per_s: round(backlog.relayRate),
          backlog_e2e_msgs_per_s: round(backlog.e2eRate),
          ...cpuFigures("cpu_us_per_msg_backlog", backlog.cpuPerMsg),
        });
      }
      checkpoint();
      // Both stacks are idle at once: one window measures both.
      say(`round ${r + 1}: idle CPU of both stacks over ${settings.idleS} s`);
      const idle = await Promise.all(stacks.map((stack) => idleCpu(stack.app, settings.idleS)));
      stacks.forEach((stack, i) => add(stack, { idle_sender_cpu_percent: idle[i]?.sender ?? Number.NaN }));
      for (const stack of stacks) stack.rounds.push(figures.get(stack.side) ?? {});
    }

    const figures = compareRounds(current.rounds, baseline.rounds, betterOf);
    const integrity = (stack: Stack) => ({
      messages: stack.ids.length,
      lost: stack.ids.filter((id) => !stack.counts.has(id)).length,
      duplicates_applied: [...stack.counts.values()].filter((n) => n > 1).length,
    });
    const medianCpu = (prefix: string, side: "current_median" | "baseline_median"): CpuPerMessage =>
      Object.fromEntries(
        Object.entries(figures).flatMap(([key, f]) =>
          key.startsWith(`${prefix}.`) && f[side] !== null ? [[key.slice(prefix.length + 1), f[side]]] : [],
        ),
      );
    const result = {
      mode: "baseline-comparison",
      baseline: {
        ref: baselineRef.ref,
        commit: baselineRef.commit,
        subject: baselineRef.subject,
        npm_ci_s: worktree.installS,
      },
      current: { commit: currentCommit, uncommitted_changes: currentDirty },
      rounds: options.rounds,
      settings,
      figures,
      cpu_us_per_msg: {
        current: medianCpu("cpu_us_per_msg", "current_median"),
        baseline: medianCpu("cpu_us_per_msg", "baseline_median"),
      },
      cpu_us_per_msg_backlog: {
        current: medianCpu("cpu_us_per_msg_backlog", "current_median"),
        baseline: medianCpu("cpu_us_per_msg_backlog", "baseline_median"),
      },
      integrity: { current: integrity(current), baseline: integrity(baseline) },
      machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}`,
      load_average_1m: round(os.loadavg()[0] ?? 0, 2),
      duration_s: round((Date.now() - started) / 1000, 0),
    };

    const labels: Record<string, string> = { ...LABELS };
    for (const key of Object.keys(figures)) {
      const [prefix, component] = key.split(".");
      if (component !== undefined)
        labels[key] = `CPU µs/msg ${prefix === "cpu_us_per_msg" ? "max load" : "backlog"}: ${component}`;
    }
    const ordered = Object.fromEntries(
      [...Object.keys(LABELS), ...Object.keys(figures).filter((k) => !(k in LABELS))].flatMap((k) =>
        figures[k] ? [[k, figures[k]]] : [],
      ),
    );
    const lines = [
      `baseline: ${baselineRef.ref} ${baselineRef.commit.slice(0, 10)} "${baselineRef.subject}" (npm ci ${worktree.installS} s)`,
      `current:  ${currentCommit.slice(0, 10)}${currentDirty ? " + uncommitted changes" : ""}; ${options.rounds} rounds per side, ratio = current / baseline`,
      `machine: ${result.machine}, load average ${result.load_average_1m}`,
      "",
      cpuPerMessageTable({
        "max load current": result.cpu_us_per_msg.current,
        "max load baseline": result.cpu_us_per_msg.baseline,
        "backlog current": result.cpu_us_per_msg_backlog.current,
        "backlog baseline": result.cpu_us_per_msg_backlog.baseline,
      }),
      "",
      comparisonTable(ordered, labels),
      "",
      ...(["current", "baseline"] as const).map((side) => {
        const i = result.integrity[side];
        return `${side}: ${i.messages} messages, lost ${i.lost}, duplicates applied ${i.duplicates_applied}`;
      }),
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
    if (options.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    process.off("SIGINT", interrupted);
    process.off("SIGTERM", interrupted);
    say("stopping both stacks, removing the baseline worktree");
    await cleanUp();
  }
}
