import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { removeRelocatedClusters } from "../providers/process/postgres-initdb.js";

/**
 * Whether `file` is the AppHost's own state.json: what writeState() writes (app, mode, apphostPid,
 * updatedAt, resources). A file of that name from another tool does not look like it.
 */
function isAppHostState(value: unknown): boolean {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const state = value as Record<string, unknown>;
  return (
    typeof state.app === "string" &&
    typeof state.mode === "string" &&
    Number.isInteger(state.apphostPid) &&
    typeof state.updatedAt === "string" &&
    Array.isArray(state.resources)
  );
}

const SETTINGS_KEYS = new Set(["secrets", "ports", "value"]);

/**
 * Whether `value` is the AppHost's settings.json (SettingsStore): at least one resource, each an
 * object of `secrets` (strings), `ports` (integers) and `value` (a string) only. An editor's or
 * tool's settings.json (numbers, booleans, dotted keys with plain values) is not.
 */
function isAppHostSettings(value: unknown): boolean {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const entries = Object.values(value as Record<string, unknown>);
  if (entries.length === 0) return false;
  const record = (v: unknown, item: (x: unknown) => boolean): boolean =>
    typeof v === "object" && v !== null && !Array.isArray(v) && Object.values(v).every(item);
  return entries.every((entry) => {
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) return false;
    const fields = entry as Record<string, unknown>;
    if (Object.keys(fields).some((key) => !SETTINGS_KEYS.has(key))) return false;
    return (
      (fields.secrets === undefined || record(fields.secrets, (x) => typeof x === "string")) &&
      (fields.ports === undefined || record(fields.ports, (x) => Number.isInteger(x))) &&
      (fields.value === undefined || typeof fields.value === "string")
    );
  });
}

/** Files only an AppHost state directory has, each with the check that it is the AppHost's own. */
const STATE_MARKERS: Array<[name: string, isOwn: (value: unknown) => boolean]> = [
  ["state.json", isAppHostState],
  ["settings.json", isAppHostSettings],
];

async function hasMarker(dir: string): Promise<boolean> {
  for (const [name, isOwn] of STATE_MARKERS) {
    const file = path.join(dir, name);
    const stat = await fs.lstat(file).catch(() => undefined);
    if (!stat?.isFile()) continue;
    try {
      if (isOwn(JSON.parse(await fs.readFile(file, "utf8")))) return true;
    } catch {
      // Not JSON: not the AppHost's.
    }
  }
  return false;
}

/**
 * Refuses (throws) unless `stateDir` is missing, empty, or an AppHost state directory: `--fresh
 * --state-dir ~` must never wipe a home directory, nor a project folder that merely has a file
 * called settings.json.
 */
export async function assertWipeable(stateDir: string): Promise<void> {
  const resolved = path.resolve(stateDir);
  if (resolved === path.parse(resolved).root || resolved === os.homedir())
    throw new Error(`--fresh refuses to delete ${resolved}`);
  const stat = await fs.lstat(resolved).catch(() => undefined);
  if (!stat) return;
  if (!stat.isDirectory()) throw new Error(`--fresh refuses to delete ${resolved}: it is not a directory`);
  const entries = await fs.readdir(resolved);
  if (entries.length === 0 || (await hasMarker(resolved))) return;
  throw new Error(
    `--fresh refuses to delete ${resolved}: it is not an AppHost state directory (it has neither an AppHost ${STATE_MARKERS.map(([name]) => name).join(" nor an AppHost ")})`,
  );
}

/** `--fresh`: checks, then removes the state directory and any cluster kept outside it. */
export async function wipeStateDirectory(stateDir: string, log: (message: string) => void): Promise<void> {
  await assertWipeable(stateDir);
  for (const removed of await removeRelocatedClusters(stateDir)) log(`--fresh: removed ${removed}`);
  await fs.rm(stateDir, { recursive: true, force: true });
}
