// The baseline of `npm run bench -- --baseline [<ref>]`: another commit of this repository checked
// out into a temporary git worktree and installed with `npm ci`, so that its services can run next
// to this tree's. Removed again at the end, also when the bench fails or is interrupted.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

/** Refs tried, in order, when --baseline names none: the last landed build. */
export const DEFAULT_BASELINE_REFS = ["origin/main", "main"];

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], cwd: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

async function mustRun(command: string, args: string[], cwd: string): Promise<string> {
  const result = await run(command, args, cwd);
  if (result.code !== 0)
    throw new Error(
      `${command} ${args.join(" ")} failed (exit ${result.code}): ${result.stderr.trim().slice(-2000)}`,
    );
  return result.stdout.trim();
}

export interface BaselineRef {
  /** What was asked for, or the default that resolved. */
  ref: string;
  commit: string;
  subject: string;
}

/**
 * The commit the baseline runs: `ref`, or else the first of DEFAULT_BASELINE_REFS that exists.
 * Fails naming the ref when it does not resolve to a commit.
 */
export async function resolveBaselineRef(repoRoot: string, ref: string | null): Promise<BaselineRef> {
  const candidates = ref === null ? DEFAULT_BASELINE_REFS : [ref];
  for (const candidate of candidates) {
    const resolved = await run(
      "git",
      ["rev-parse", "--verify", "--quiet", `${candidate}^{commit}`],
      repoRoot,
    );
    if (resolved.code !== 0) continue;
    const commit = resolved.stdout.trim();
    const subject = await mustRun("git", ["log", "-1", "--format=%s", commit], repoRoot);
    return { ref: candidate, commit, subject };
  }
  throw new Error(
    ref === null
      ? `no baseline given and none of ${DEFAULT_BASELINE_REFS.join(", ")} exists: pass --baseline <git-ref>`
      : `--baseline ${ref}: not a commit in ${repoRoot}`,
  );
}

export interface BaselineWorktree {
  dir: string;
  commit: string;
  /** Seconds `npm ci` took. */
  installS: number;
  /** Removes the worktree and its registration; safe to call twice. */
  remove(): Promise<void>;
}

/**
 * Checks `commit` out into a new temporary directory (`git worktree add --detach`) and runs
 * `npm ci` there (offline first: the npm cache normally has every package). On failure, what was
 * made is removed before the error is thrown.
 */
export interface BaselineWorktreeOptions {
  log: (line: string) => void;
  /** What installs the checkout (default `npm ci`); a test passes a stand-in. */
  install?: (dir: string) => Promise<void>;
  /**
   * Called with the removal as soon as the directory exists, before the checkout and the install:
   * an interrupt during `npm ci` can then still remove it.
   */
  onCreated?: (remove: () => Promise<void>) => void;
}

export async function createBaselineWorktree(
  repoRoot: string,
  commit: string,
  options: BaselineWorktreeOptions,
): Promise<BaselineWorktree> {
  const { log, install = npmCi } = options;
  const dir = await mkdtemp(path.join(os.tmpdir(), "outbox-bench-baseline-"));
  let removed = false;
  const remove = async (): Promise<void> => {
    if (removed) return;
    removed = true;
    // The files first, then git's registration of the now missing worktree: `git worktree remove
    // --force` does the same but took minutes over node_modules on a busy machine.
    await rm(dir, { recursive: true, force: true });
    await run("git", ["worktree", "prune"], repoRoot);
  };
  options.onCreated?.(remove);
  try {
    await mustRun("git", ["worktree", "add", "--detach", dir, commit], repoRoot);
    log(`baseline ${commit.slice(0, 10)} checked out in ${dir}; npm ci`);
    const started = Date.now();
    await install(dir);
    const installS = Math.round((Date.now() - started) / 100) / 10;
    log(`baseline npm ci took ${installS} s`);
    return { dir, commit, installS, remove };
  } catch (error) {
    await remove();
    throw error;
  }
}

async function npmCi(dir: string): Promise<void> {
  await mustRun("npm", ["ci", "--no-audit", "--no-fund", "--prefer-offline"], dir);
}
