import { inspect } from "node:util";
import type { ResourceSnapshot } from "./distributed-application.js";

/**
 * An error's message followed by its causes' (`Error.cause`), one level after the other:
 * "could not copy X; cause: ENOENT: no such file or directory, lstat 'Y'". What a failed start
 * writes to the resource's log, the console and state.json.
 */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 6; depth++) {
    const message =
      current instanceof Error
        ? current.message
        : typeof current === "string"
          ? current
          : inspect(current, { depth: 1, breakLength: Infinity });
    if (message && !parts.includes(message)) parts.push(message);
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join("; cause: ") || "unknown error";
}

/**
 * The lines of a process's last output that say what went wrong: errors and their causes as Node
 * prints them ("Error: …", "[cause]: …"), PostgreSQL's FATAL/PANIC/ERROR lines, Java exceptions.
 */
export function errorLines(lines: readonly string[], max = 5): string[] {
  const pattern = /^\s*(\[cause\]:|[\w.$]*(Error|Exception)\b|(FATAL|PANIC|ERROR)\b)/;
  return lines
    .filter((line) => pattern.test(line))
    .map((line) => line.trim())
    .slice(-max);
}

/** The error for a process that ended before its start completed, with its error output as the cause. */
export function exitedDuringStart(what: string, lastOutput: readonly string[]): Error {
  const said = errorLines(lastOutput);
  return said.length > 0 ? new Error(what, { cause: new Error(said.join(" ")) }) : new Error(what);
}

/** A resource did not start because a resource it waits for failed to start. */
export class DependencyFailedError extends Error {
  constructor(
    readonly dependency: string,
    dependencyReason: string,
  ) {
    super(`waited for "${dependency}", which failed to start: ${dependencyReason}`);
    this.name = "DependencyFailedError";
  }
}

/** A start that the application's stop cut short (another resource failed, or the user stopped it). */
export class StartCancelledError extends Error {
  constructor(why: string) {
    super(`start cancelled: ${why}`);
    this.name = "StartCancelledError";
  }
}

/** One resource whose own start failed (not a dependent, not a cancelled start). */
export interface StartFailure {
  resource: string;
  reason: string;
  /** The resource's last lines of output, oldest first. */
  lastOutput: string[];
}

/**
 * `DistributedApplication.start()` failed: which resources failed and why, and every resource as
 * the stop that followed left it, with the pid it had when the start failed (so that a caller can
 * check that none of them outlived the stop).
 */
export class ApplicationStartError extends Error {
  constructor(
    readonly failures: StartFailure[],
    readonly resources: ResourceSnapshot[],
    summary = "The application failed to start",
  ) {
    super(`${summary}:\n${describeFailures(failures, resources)}`);
    this.name = "ApplicationStartError";
  }
}

function describeFailures(failures: StartFailure[], resources: ResourceSnapshot[]): string {
  const lines: string[] = [];
  for (const failure of failures) {
    lines.push(`${failure.resource}: ${failure.reason}`);
    if (failure.lastOutput.length > 0)
      lines.push("  last output:", ...failure.lastOutput.map((line) => `    ${line}`));
  }
  const blocked = resources.filter((r) => r.failedDependency !== undefined);
  if (blocked.length > 0)
    lines.push(
      `not started because of it: ${blocked.map((r) => `${r.name} (waited for ${r.failedDependency})`).join(", ")}`,
    );
  return lines.join("\n");
}
