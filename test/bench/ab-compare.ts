// Before/after arithmetic of `--baseline`: per figure, the ratio current/baseline of the two
// sides' medians over the rounds, the spread of the per-round ratios (round i of one side against
// round i of the other, measured back to back), and a verdict that only says better or worse when
// every round agrees.

/** Which way a figure improves: throughput up, latency and CPU down. */
export type Better = "higher" | "lower";

export interface FigureComparison {
  better: Better;
  /** One value per round, in round order; NaN where a round had no figure. */
  current: number[];
  baseline: number[];
  current_median: number | null;
  baseline_median: number | null;
  /** current_median / baseline_median (null when either is missing or the baseline is 0). */
  ratio: number | null;
  /** Lowest and highest per-round ratio. */
  ratio_min: number | null;
  ratio_max: number | null;
  /**
   * "better"/"worse" when every round's ratio is on that side of 1 and there are at least
   * MIN_ROUNDS_FOR_VERDICT of them (two rounds agree by chance one time in two), else "noise".
   */
  verdict: "better" | "worse" | "noise" | "no figure";
}

/** Fewer paired rounds than this never give a verdict. */
export const MIN_ROUNDS_FOR_VERDICT = 3;

export function median(values: readonly number[]): number | null {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? null) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

function ratioOf(current: number | null | undefined, baseline: number | null | undefined): number | null {
  if (current === null || current === undefined || baseline === null || baseline === undefined) return null;
  if (!Number.isFinite(current) || !Number.isFinite(baseline) || baseline === 0) return null;
  return current / baseline;
}

const r3 = (n: number | null) => (n === null ? null : Math.round(n * 1000) / 1000);

export function compareFigure(better: Better, current: number[], baseline: number[]): FigureComparison {
  if (current.length !== baseline.length)
    throw new Error(`rounds differ: ${current.length} current against ${baseline.length} baseline`);
  const currentMedian = median(current);
  const baselineMedian = median(baseline);
  const perRound = current.map((c, i) => ratioOf(c, baseline[i])).filter((r): r is number => r !== null);
  const improves = (r: number) => (better === "higher" ? r > 1 : r < 1);
  const worsens = (r: number) => (better === "higher" ? r < 1 : r > 1);
  const verdict =
    perRound.length === 0
      ? "no figure"
      : perRound.length < MIN_ROUNDS_FOR_VERDICT
        ? "noise"
        : perRound.every(improves)
          ? "better"
          : perRound.every(worsens)
            ? "worse"
            : "noise";
  return {
    better,
    current,
    baseline,
    current_median: r3(currentMedian),
    baseline_median: r3(baselineMedian),
    ratio: r3(ratioOf(currentMedian, baselineMedian)),
    ratio_min: perRound.length === 0 ? null : r3(Math.min(...perRound)),
    ratio_max: perRound.length === 0 ? null : r3(Math.max(...perRound)),
    verdict,
  };
}

/** One side's figures of one round, by figure key. */
export type RoundFigures = Record<string, number>;

/**
 * Compares every figure the rounds have. `betterOf` says which way a key improves; a key missing
 * in a round counts as NaN there (no figure), not as 0.
 */
export function compareRounds(
  current: RoundFigures[],
  baseline: RoundFigures[],
  betterOf: (key: string) => Better,
): Record<string, FigureComparison> {
  const keys = [...new Set([...current, ...baseline].flatMap((r) => Object.keys(r)))];
  const column = (rounds: RoundFigures[], key: string) => rounds.map((r) => r[key] ?? Number.NaN);
  return Object.fromEntries(
    keys.map((key) => [key, compareFigure(betterOf(key), column(current, key), column(baseline, key))]),
  );
}

/** The comparison as a plain-text table, one figure per row, in the given order. */
export function comparisonTable(
  figures: Record<string, FigureComparison>,
  labels: Record<string, string>,
): string {
  const fmt = (n: number | null) => (n === null ? "—" : `${Math.round(n * 10) / 10}`);
  const rows = Object.entries(figures).map(([key, f]) => [
    labels[key] ?? key,
    fmt(f.current_median),
    fmt(f.baseline_median),
    f.ratio === null ? "—" : f.ratio.toFixed(2),
    f.ratio_min === null ? "—" : `${f.ratio_min.toFixed(2)}–${(f.ratio_max ?? 0).toFixed(2)}`,
    `${f.verdict}${f.verdict === "no figure" ? "" : ` (${f.better} is better)`}`,
  ]);
  const header = ["figure (median of rounds)", "current", "baseline", "ratio", "per round", "verdict"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 || i === 5 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join("  ");
  return [line(header), ...rows.map(line)].join("\n").replace(/ +$/gm, "");
}
