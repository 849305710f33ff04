// CPU time per applied message, per component: what one message costs each process of the stack.
// Robust to a busy machine in a way rates are not, because each process is charged only the CPU
// time it actually got (user + sys from /proc/<pid>/stat, see proc-stats.ts).

/** The components of the stack, in the order the table prints them, then the two sums. */
export const CPU_COMPONENTS = ["sender", "receiver", "sender-pg", "receiver-pg", "broker"] as const;

/**
 * µs of CPU per applied message. Keys (stable, in `--json`): the five components, `postgres` =
 * both PostgreSQL servers, `stack` = all five (the bench's own load generator is left out of both
 * and reported as `load-generator` when it was sampled).
 */
export type CpuPerMessage = Record<string, number>;

/**
 * Divides each component's CPU seconds over a window by the messages applied in it, in µs (one
 * decimal). A component that was not sampled is left out, and so is every figure when nothing was
 * applied (a cost per message of nothing is not a figure).
 */
export function cpuPerMessage(cpuSeconds: Record<string, number>, applied: number): CpuPerMessage {
  if (!Number.isInteger(applied) || applied < 0)
    throw new Error(`applied must be a whole number of messages, got ${applied}`);
  if (applied === 0) return {};
  const us = (seconds: number) => Math.round((seconds * 1e6 * 10) / applied) / 10;
  const result: CpuPerMessage = {};
  const present = CPU_COMPONENTS.filter((name) => cpuSeconds[name] !== undefined);
  for (const name of present) result[name] = us(cpuSeconds[name] ?? 0);
  const pg = ["sender-pg", "receiver-pg"].filter((name) => cpuSeconds[name] !== undefined);
  if (pg.length > 0) result.postgres = us(pg.reduce((sum, name) => sum + (cpuSeconds[name] ?? 0), 0));
  if (present.length > 0) result.stack = us(present.reduce((sum, name) => sum + (cpuSeconds[name] ?? 0), 0));
  if (cpuSeconds["load-generator"] !== undefined) result["load-generator"] = us(cpuSeconds["load-generator"]);
  return result;
}

/** The keys of a CpuPerMessage in print order. */
export const CPU_PER_MESSAGE_KEYS = [...CPU_COMPONENTS, "postgres", "stack", "load-generator"];

/**
 * A plain-text table: one row per component, one column per named measurement (e.g. "max load",
 * "backlog"); "—" where a column has no figure for that row.
 */
export function cpuPerMessageTable(columns: Record<string, CpuPerMessage>): string {
  const names = Object.keys(columns);
  const rows = CPU_PER_MESSAGE_KEYS.filter((key) => names.some((n) => columns[n]?.[key] !== undefined));
  const header = ["µs CPU per applied message", ...names];
  const cell = (v: number | undefined) => (v === undefined ? "—" : `${Math.round(v * 10) / 10}`);
  const body = rows.map((key) => [key, ...names.map((n) => cell(columns[n]?.[key]))]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ");
  return [line(header), ...body.map(line)].join("\n");
}
