// A project outside this workspace that installs packed packages, as a user's project would: the
// tarballs come from `npm pack` (which builds them through prepack), and everything is run with
// the project's own `npm` and `npx`, with an environment free of what npm and vitest add to ours.

import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { repositoryRoot } from "@outbox/apphost/testing";

export interface CommandResult {
  /** The exit code; -1 when the command did not exit by itself (timeout, signal, not found). */
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd: string;
  /** Added to the user's environment (see userEnvironment). */
  env?: Record<string, string>;
  timeoutMs?: number;
}

/**
 * This process's environment as a user's shell would have it: without the `npm_*` variables of the
 * `npm test` that may have started us (a `npm_config_*` would reconfigure the user's npm) and
 * without vitest's variables and NODE_ENV.
 */
export function userEnvironment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (/^npm_/i.test(name) || /^VITEST/.test(name) || name === "NODE_ENV" || name === "APPHOST_TEST_MODE")
      continue;
    env[name] = value;
  }
  return { ...env, ...extra };
}

/** Runs a command to its end; never throws for a failing command (its code says so). */
export function run(command: string, args: readonly string[], options: RunOptions): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      {
        cwd: options.cwd,
        env: userEnvironment(options.env),
        timeout: options.timeoutMs ?? 180_000,
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The command line and its output, for an assertion's message. */
export function describeResult(what: string, result: CommandResult): string {
  return `${what} exited with ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}

/** Runs a command and throws, with its output, unless it succeeds. */
export async function runOrThrow(
  command: string,
  args: readonly string[],
  options: RunOptions,
): Promise<CommandResult> {
  const result = await run(command, args, options);
  if (result.code !== 0) throw new Error(describeResult(`${command} ${args.join(" ")}`, result));
  return result;
}

/** npm flags for installs: from the local cache where it has the package, quietly. */
export const INSTALL_FLAGS = ["--prefer-offline", "--no-audit", "--no-fund"] as const;

/**
 * `npm pack` of one of this repository's workspaces into `destination` (created, and expected to
 * hold no tarball yet); returns the tarball's path. The package's prepack script builds it.
 */
export async function packWorkspace(workspace: string, destination: string): Promise<string> {
  await fs.mkdir(destination, { recursive: true });
  await runOrThrow("npm", ["pack", "--workspace", workspace, "--pack-destination", destination], {
    cwd: repositoryRoot,
    timeoutMs: 300_000,
  });
  const tarballs = (await fs.readdir(destination)).filter((name) => name.endsWith(".tgz"));
  if (tarballs.length !== 1)
    throw new Error(`npm pack of ${workspace} left ${tarballs.length} tarballs in ${destination}`);
  return path.join(destination, tarballs[0] ?? "");
}

export interface PackedProject {
  /** The project's directory (absolute). */
  readonly dir: string;
  /**
   * `npx <args>` in the project, as `npx --no -- <args>`: `--no` makes a missing bin fail rather
   * than fetch a namesake from the registry, and after it npm would take the command's flags for
   * its own without the `--`.
   */
  npx(args: readonly string[], options?: Omit<RunOptions, "cwd">): Promise<CommandResult>;
  /** Writes a file of the project (directories created as needed). */
  write(relativePath: string, content: string): Promise<void>;
}

export interface PackedProjectOptions {
  /** Where to create the project: a directory that does not exist yet, outside this workspace. */
  dir: string;
  /** The package.json `name`. */
  name: string;
  /** What `npm install` installs: tarball paths and registry specs such as `express@5`. */
  install: readonly string[];
}

/**
 * Creates an ES-module project (`"type": "module"`) in `dir` and npm-installs `install` into it.
 * It approves the same dependency install scripts as this repository does (npm 11 runs none it
 * was not told to): the AppHost's dependencies are the same packages.
 */
export async function createPackedProject(options: PackedProjectOptions): Promise<PackedProject> {
  const dir = path.resolve(options.dir);
  if (isInside(dir, repositoryRoot)) throw new Error(`${dir} is inside the workspace ${repositoryRoot}`);
  await fs.mkdir(dir);
  const workspaceManifest = JSON.parse(
    await fs.readFile(path.join(repositoryRoot, "package.json"), "utf8"),
  ) as { allowScripts?: Record<string, boolean> };
  const manifest = {
    name: options.name,
    private: true,
    type: "module",
    ...(workspaceManifest.allowScripts ? { allowScripts: workspaceManifest.allowScripts } : {}),
  };
  await fs.writeFile(path.join(dir, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  await runOrThrow("npm", ["install", ...INSTALL_FLAGS, ...options.install], {
    cwd: dir,
    timeoutMs: 300_000,
  });
  return {
    dir,
    npx: (args, runOptions = {}) => run("npx", ["--no", "--", ...args], { ...runOptions, cwd: dir }),
    write: async (relativePath, content) => {
      const file = path.join(dir, relativePath);
      if (!isInside(file, dir)) throw new Error(`${relativePath} is outside the project`);
      await fs.mkdir(path.dirname(file), { recursive: true });
      await fs.writeFile(file, content);
    },
  };
}

function isInside(file: string, dir: string): boolean {
  const relative = path.relative(dir, file);
  return relative === "" || (!relative.startsWith("..") && !path.isAbsolute(relative));
}

interface LockEntry {
  os?: string[];
  cpu?: string[];
  optional?: boolean;
}

/**
 * The packages of a package-lock.json that npm would refuse to install on `platform`: those whose
 * `os` or `cpu` excludes it and that are not optional (npm skips optional ones that do not fit,
 * and fails on any other with EBADPLATFORM). `--os`/`--cpu` on this machine only choose which
 * optional packages a dry run adds, so the lock file is where a required platform package shows.
 */
export function platformBlockers(lock: unknown, platform: { os: string; cpu: string }): string[] {
  const packages = (lock as { packages?: Record<string, LockEntry> }).packages ?? {};
  const excludes = (list: string[] | undefined, value: string) => {
    if (list === undefined || list.length === 0) return false;
    if (list.includes(`!${value}`)) return true;
    const allowed = list.filter((entry) => !entry.startsWith("!"));
    return allowed.length > 0 && !allowed.includes(value);
  };
  return Object.entries(packages)
    .filter(([name, entry]) => name !== "" && !entry.optional)
    .filter(([, entry]) => excludes(entry.os, platform.os) || excludes(entry.cpu, platform.cpu))
    .map(([name]) => name.replace(/^.*node_modules\//, ""));
}
