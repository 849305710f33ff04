import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import type { ResourceSnapshot } from "../runtime/distributed-application.js";
import type { ReplicaSnapshot } from "../runtime/replica-set.js";
import { maskUri } from "../runtime/environment.js";
import { readJsonFile } from "../runtime/files.js";
import { readable } from "../runtime/log-sink.js";
import { maskSecrets } from "../runtime/parameters.js";
import { stripControlSequences } from "../runtime/terminal-safe.js";
import { ControlClient } from "./control-client.js";
import {
  CliError,
  isProcessAlive,
  readControlFile,
  readStateFile,
  requireRunningAppHost,
  stateFilePath,
} from "./state-files.js";

type Print = (text: string) => void;

/** `apphost status`: the resources and URLs from state.json, and whether the AppHost still runs. */
export async function statusVerb(stateDir: string, print: Print): Promise<number> {
  const state = await readStateFile(stateDir);
  if (!state)
    throw new CliError(`No ${stateFilePath(stateDir)}: the AppHost has not run with this state directory.`);
  const control = await readControlFile(stateDir);
  const alive = isProcessAlive(state.apphostPid);
  print(
    alive
      ? `${state.app}: running (AppHost pid ${state.apphostPid}, mode ${state.mode}, updated ${state.updatedAt})`
      : `${state.app}: not running (last state written ${state.updatedAt} by pid ${state.apphostPid})`,
  );
  if (alive && control)
    // The browser address (the login link's origin); dashboardUrl is the tools' 127.0.0.1 address.
    print(
      `dashboard: ${control.loginUrl ? new URL(control.loginUrl).origin : control.dashboardUrl}${control.ready ? "" : " (still starting)"}`,
    );
  print("");
  for (const r of state.resources) {
    print(resourceLine(r, alive));
    // A replicated service's line shows its first replica's URL; each replica follows, nested.
    for (const replica of r.replicas ?? []) print(replicaLine(replica, alive));
  }
  return alive ? 0 : 3;
}

function resourceLine(r: ResourceSnapshot, alive: boolean): string {
  const urls = Object.values(r.endpoints);
  if (urls.length === 0 && r.connectionString) urls.push(maskUri(r.connectionString));
  const kind = r.replicas ? `${r.kind} ×${r.replicas.length}` : r.kind;
  return `  ${r.name.padEnd(13)} ${kind.padEnd(18)} ${stateText(r, alive).padEnd(17)} ${urls.join("  ")}`.trimEnd();
}

function replicaLine(r: ReplicaSnapshot, alive: boolean): string {
  const pid = r.pid === null ? "" : `pid ${r.pid}`;
  return `    ${r.name.padEnd(11)} ${pid.padEnd(18)} ${stateText(r, alive).padEnd(17)} ${Object.values(r.endpoints).join("  ")}`.trimEnd();
}

function stateText(r: { state: string; health: string }, alive: boolean): string {
  return alive ? `${r.state}/${r.health}` : `${r.state}/${r.health} (stale)`;
}

/** Resource names the verbs accept: every resource and every replica of a replicated service. */
function resourceNames(resources: readonly ResourceSnapshot[]): string[] {
  return resources.flatMap((r) => [r.name, ...(r.replicas ?? []).map((x) => x.name)]);
}

/** A resource, or one replica of a replicated service, by name. */
function findResource(
  resources: readonly ResourceSnapshot[],
  name: string,
): ResourceSnapshot | ReplicaSnapshot | undefined {
  for (const r of resources) {
    if (r.name === name) return r;
    const replica = r.replicas?.find((x) => x.name === name);
    if (replica) return replica;
  }
  return undefined;
}

export interface LogsOptions {
  follow: boolean;
  /** Lines of history to print first. */
  tail: number;
  signal?: AbortSignal;
}

/** `apphost logs <resource> [-f]`: the resource's log file, readable; `-f` keeps following it. */
export async function logsVerb(
  stateDir: string,
  resource: string,
  options: LogsOptions,
  print: Print,
): Promise<number> {
  const file = path.join(stateDir, "logs", `${resource}.log`);
  const state = await readStateFile(stateDir);
  if (state && findResource(state.resources, resource) === undefined && resource !== "apphost")
    throw new CliError(
      `No resource named "${resource}" (have: ${resourceNames(state.resources).join(", ")})`,
      2,
    );
  let content: string;
  try {
    content = await fsp.readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    if (!options.follow) throw new CliError(`No log yet for "${resource}" (${file})`);
    content = "";
  }
  // Files written before the AppHost masked them may still hold its generated credentials.
  const secrets = await storedSecrets(stateDir);
  const show = (line: string) => print(maskSecrets(formatLogLine(line), secrets));
  const lines = content.split("\n").filter(Boolean);
  for (const line of lines.slice(-options.tail)) show(line);
  if (!options.follow) return 0;
  await follow(file, Buffer.byteLength(content), show, options.signal);
  return 0;
}

/** The credentials the AppHost generated, from its settings file (mode 0600: its owner reads it). */
async function storedSecrets(stateDir: string): Promise<string[]> {
  const settings = await readJsonFile<Record<string, { secrets?: Record<string, string> }>>(
    path.join(stateDir, "settings.json"),
  ).catch(() => undefined);
  return Object.values(settings ?? {}).flatMap((entry) =>
    Object.values(entry.secrets ?? {}).filter((v): v is string => typeof v === "string"),
  );
}

/**
 * "<ISO time> <stream> <text>" as written by LogSink -> "HH:MM:SS.mmm text" (pino JSON made
 * readable), safe for the terminal: control sequences a resource printed, or that a JSON string
 * carried escaped (decoded by the rendering), are removed after rendering.
 */
export function formatLogLine(line: string): string {
  const match = /^(\d{4}-\d\d-\d\dT(\d\d:\d\d:\d\d\.\d{3})Z) (stdout|stderr|apphost) (.*)$/.exec(line);
  if (!match) return stripControlSequences(line);
  return stripControlSequences(`${match[2]} ${readable(match[4] ?? "")}`);
}

/** Prints lines appended to `file` from `offset` on, until the signal aborts (Ctrl+C otherwise). */
async function follow(
  file: string,
  offset: number,
  onLine: (line: string) => void,
  signal?: AbortSignal,
): Promise<void> {
  let position = offset;
  let pending = "";
  let reading = false;
  const readMore = async () => {
    if (reading) return;
    reading = true;
    try {
      const handle = await fsp.open(file, "r").catch(() => undefined);
      if (!handle) return;
      try {
        const { size } = await handle.stat();
        if (size < position) position = 0; // truncated or replaced (--fresh): start over
        while (position < size) {
          const buffer = Buffer.alloc(Math.min(size - position, 1 << 20));
          const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
          if (bytesRead === 0) break;
          position += bytesRead;
          pending += buffer.subarray(0, bytesRead).toString("utf8");
          let newline = pending.indexOf("\n");
          while (newline >= 0) {
            onLine(pending.slice(0, newline));
            pending = pending.slice(newline + 1);
            newline = pending.indexOf("\n");
          }
        }
      } finally {
        await handle.close();
      }
    } finally {
      reading = false;
    }
  };
  // fs.watchFile polls the file's stat: it keeps working when the file is created later or replaced.
  await new Promise<void>((resolve) => {
    const listener = () => void readMore();
    fs.watchFile(file, { interval: 250 }, listener);
    void readMore();
    const finish = () => {
      fs.unwatchFile(file, listener);
      resolve();
    };
    if (signal?.aborted) finish();
    signal?.addEventListener("abort", finish, { once: true });
  });
}

/** `apphost restart <resource>`: asks the running AppHost, then waits until the resource is healthy again. */
export async function restartVerb(
  stateDir: string,
  resource: string,
  print: Print,
  timeoutMs = 180_000,
): Promise<number> {
  const control = await requireRunningAppHost(stateDir);
  const client = new ControlClient(control);
  const resources = await client.get<ResourceSnapshot[]>("/api/resources");
  const before = findResource(resources, resource);
  if (!before)
    throw new CliError(`No resource named "${resource}" (have: ${resourceNames(resources).join(", ")})`, 2);
  await client.post(`/api/resources/${encodeURIComponent(resource)}/restart`);
  print(`restarting ${resource}…`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = findResource(await client.get<ResourceSnapshot[]>("/api/resources"), resource);
    // A new start time tells this run's restart from the old, still-healthy process.
    if (now && now.startedAt !== before.startedAt && now.state === "Running" && now.health === "Healthy") {
      print(`${resource}: running and healthy (pid ${now.pid ?? "-"})`);
      return 0;
    }
    if (now?.state === "FailedToStart")
      throw new CliError(`${resource} failed to start: npm run apphost -- logs ${resource}`);
    if (Date.now() > deadline)
      throw new CliError(`${resource} was not healthy again within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** `apphost stop`: SIGTERM to a detached AppHost (it stops everything in order), then waits for it to exit. */
export async function stopVerb(stateDir: string, print: Print, timeoutMs = 120_000): Promise<number> {
  const control = await requireRunningAppHost(stateDir);
  print(`stopping the AppHost (pid ${control.pid})…`);
  process.kill(control.pid, "SIGTERM");
  const deadline = Date.now() + timeoutMs;
  while (isProcessAlive(control.pid)) {
    if (Date.now() > deadline)
      throw new CliError(`The AppHost (pid ${control.pid}) is still running after ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  print("stopped; nothing left running");
  return 0;
}
