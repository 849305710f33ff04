import type { ResourceSnapshot } from "../runtime/distributed-application.js";
import { maskUri } from "../runtime/environment.js";
import type { Terminal } from "./terminal.js";

export interface ReportedApp {
  snapshot(): ResourceSnapshot[];
  onChange(listener: () => void): () => void;
}

/**
 * The quiet console: resources' own output goes to their log files (and the dashboard); the
 * console gets one line per resource when it first becomes healthy, then only what a user must
 * notice — a resource that exits, turns unhealthy, recovers or is restarted.
 */
export class ConsoleReporter {
  private readonly seen = new Map<string, { state: string; health: string }>();
  private readonly healthyOnce = new Set<string>();
  private readonly startedAt = Date.now();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly app: ReportedApp,
    private readonly terminal: Terminal,
  ) {
    this.unsubscribe = app.onChange(() => this.update());
  }

  stop(): void {
    this.unsubscribe();
  }

  /** Resources that went down after being healthy: their next healthy line says "restarted". */
  private readonly restarting = new Set<string>();

  private update(): void {
    for (const r of this.app.snapshot()) {
      const before = this.seen.get(r.name);
      if (before && before.state === r.state && before.health === r.health) continue;
      this.seen.set(r.name, { state: r.state, health: r.health });
      if ((r.state === "Stopping" || r.state === "Exited") && this.healthyOnce.has(r.name))
        this.restarting.add(r.name);
      const line = this.describe(r, before);
      if (line) this.terminal.line(line);
    }
  }

  private describe(
    r: ResourceSnapshot,
    before: { state: string; health: string } | undefined,
  ): string | undefined {
    const name = r.name.padEnd(12);
    if (r.state === "Running" && r.health === "Healthy") {
      if (!this.healthyOnce.has(r.name)) {
        this.healthyOnce.add(r.name);
        const seconds = ((Date.now() - this.startedAt) / 1000).toFixed(1);
        return `  ✓ ${name} ${r.kind.padEnd(18)} healthy after ${seconds.padStart(5)} s  ${where(r)}`.trimEnd();
      }
      if (this.restarting.delete(r.name)) return `  ✓ ${name} restarted, healthy  ${where(r)}`.trimEnd();
      return `  ✓ ${name} healthy again`;
    }
    if (r.state === "FailedToStart") return failedLine(r, name);
    if (r.state === "Exited" && before?.state === "Stopping") return `  ■ ${name} stopped`;
    if (r.state === "Exited" && before?.state === "Running")
      return `  ✗ ${name} exited ${r.exitCode === null || r.exitCode === undefined ? "(killed)" : `with code ${r.exitCode}`} (see: npm run apphost -- logs ${r.name})`;
    if (r.state === "Running" && r.health === "Unhealthy" && before?.health === "Healthy")
      return `  ! ${name} unhealthy: ${r.healthDetail ?? "no detail"}`;
    if (r.state === "Stopping" && this.healthyOnce.has(r.name)) return `  … ${name} stopping`;
    return undefined;
  }
}

/** The longest reason the console shows on one line; the resource's log has all of it. */
const MAX_REASON = 400;

/**
 * A failed start: its own error (message and causes), or which resource it waited for, or that
 * the application's stop cancelled it.
 */
function failedLine(r: ResourceSnapshot, name: string): string {
  if (r.failedDependency !== undefined)
    return `  ✗ ${name} not started: waited for ${r.failedDependency}, which failed to start`;
  const reason = (r.stateReason ?? "").replace(/\s*\n\s*/g, " | ");
  if (reason.startsWith("start cancelled")) return `  ■ ${name} ${reason}`;
  const shown = reason.length > MAX_REASON ? `${reason.slice(0, MAX_REASON)}…` : reason;
  return `  ✗ ${name} failed to start${shown ? `: ${shown}` : ""} (log: npm run apphost -- logs ${r.name})`;
}

function where(r: ResourceSnapshot): string {
  const urls = Object.values(r.endpoints);
  if (urls.length === 0 && r.connectionString) urls.push(maskUri(r.connectionString));
  return urls.join(" ");
}
