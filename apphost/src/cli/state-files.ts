import { readFileSync } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import type { ResourceSnapshot } from "../runtime/distributed-application.js";
import { readJsonFile, writeFileAtomic } from "../runtime/files.js";

/**
 * `<state dir>/control.json` (mode 0600): how tools reach a running AppHost — its pid, the
 * dashboard URL and the dashboard's login token, which the dashboard API also accepts as a bearer
 * token. Whoever can read the state directory (its owner) can control the AppHost; nobody else.
 */
export interface ControlFile {
  pid: number;
  dashboardUrl: string;
  /** Bearer token for tools (the dashboard's tool token, not the one-time login token). */
  token: string;
  /** The current one-time login link when the file was written. */
  loginUrl?: string;
  /** True once every resource has started and become healthy. */
  ready: boolean;
  startedAt: string;
  /** Set when start-up failed (the process then exits). */
  error?: string;
}

export interface StateFile {
  app: string;
  mode: string;
  apphostPid: number;
  updatedAt: string;
  resources: ResourceSnapshot[];
}

export function controlFilePath(stateDir: string): string {
  return path.join(stateDir, "control.json");
}

export function stateFilePath(stateDir: string): string {
  return path.join(stateDir, "state.json");
}

export async function writeControlFile(stateDir: string, control: ControlFile): Promise<void> {
  await fs.mkdir(stateDir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(controlFilePath(stateDir), `${JSON.stringify(control, null, 2)}\n`, 0o600);
}

export async function removeControlFile(stateDir: string, pid = process.pid): Promise<void> {
  // Only our own: a second AppHost on the same state directory must not lose its file.
  const current = await readControlFile(stateDir).catch(() => undefined);
  if (current?.pid === pid) await fs.rm(controlFilePath(stateDir), { force: true });
}

export function readControlFile(stateDir: string): Promise<ControlFile | undefined> {
  return readJsonFile<ControlFile>(controlFilePath(stateDir));
}

export function readStateFile(stateDir: string): Promise<StateFile | undefined> {
  return readJsonFile<StateFile>(stateFilePath(stateDir));
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  // An exited process nobody has reaped yet (a container's init may never do it) is not alive.
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return true;
  }
}

/** The control file of a live AppHost, or an error that says what to do. */
export async function requireRunningAppHost(stateDir: string): Promise<ControlFile> {
  const control = await readControlFile(stateDir);
  if (!control || !isProcessAlive(control.pid))
    throw new CliError(`No AppHost is running for ${stateDir}. Start one with: npm run apphost -- --detach`);
  return control;
}

/** A failure with a message meant for the user (no stack trace), and an exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}
