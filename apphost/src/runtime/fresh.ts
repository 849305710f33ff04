import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { removeRelocatedClusters } from "../providers/process/postgres-initdb.js";

/** Files only an AppHost state directory has: `--fresh` deletes nothing without one of them. */
const STATE_MARKERS = ["state.json", "settings.json"];

/**
 * Refuses (throws) unless `stateDir` is missing, empty, or an AppHost state directory: `--fresh
 * --state-dir ~` must never wipe a home directory.
 */
export async function assertWipeable(stateDir: string): Promise<void> {
  const resolved = path.resolve(stateDir);
  if (resolved === path.parse(resolved).root || resolved === os.homedir())
    throw new Error(`--fresh refuses to delete ${resolved}`);
  const stat = await fs.lstat(resolved).catch(() => undefined);
  if (!stat) return;
  if (!stat.isDirectory()) throw new Error(`--fresh refuses to delete ${resolved}: it is not a directory`);
  const entries = await fs.readdir(resolved);
  if (entries.length === 0 || STATE_MARKERS.some((m) => entries.includes(m))) return;
  throw new Error(
    `--fresh refuses to delete ${resolved}: it is not an AppHost state directory (it has neither ${STATE_MARKERS.join(" nor ")})`,
  );
}

/** `--fresh`: checks, then removes the state directory and any cluster kept outside it. */
export async function wipeStateDirectory(stateDir: string, log: (message: string) => void): Promise<void> {
  await assertWipeable(stateDir);
  for (const removed of await removeRelocatedClusters(stateDir)) log(`--fresh: removed ${removed}`);
  await fs.rm(stateDir, { recursive: true, force: true });
}
