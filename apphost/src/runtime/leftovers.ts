import fs from "node:fs/promises";
import { readJsonFile } from "./files.js";
import { sleep } from "./wait.js";

interface PreviousState {
  apphostPid?: number;
  resources?: Array<{ name: string; pid: number | null }>;
}

/**
 * Makes sure an earlier AppHost using the same state directory is gone: refuses to run beside a live
 * one, and ends process groups an AppHost killed with SIGKILL could not clean up.
 */
export async function clearLeftovers(stateFile: string, log: (message: string) => void): Promise<void> {
  const previous = await readJsonFile<PreviousState>(stateFile).catch(() => undefined);
  if (!previous) return;
  if (previous.apphostPid && previous.apphostPid !== process.pid && (await isAlive(previous.apphostPid))) {
    throw new Error(
      `Another AppHost (pid ${previous.apphostPid}) is running with ${stateFile}; stop it first (Ctrl+C or kill ${previous.apphostPid}).`,
    );
  }
  for (const resource of previous.resources ?? []) {
    if (!resource.pid || !(await isAlive(resource.pid))) continue;
    log(`ending ${resource.name} (pid ${resource.pid}) left over from an earlier run`);
    try {
      process.kill(-resource.pid, "SIGKILL");
    } catch {
      try {
        process.kill(resource.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    for (let i = 0; i < 50 && (await isAlive(resource.pid)); i++) await sleep(100);
  }
}

async function isAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const status = await fs.readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
  return !/^State:\s+Z/m.test(status);
}
