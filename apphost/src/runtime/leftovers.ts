import fs from "node:fs/promises";
import { readJsonFile } from "./files.js";
import { sleep } from "./wait.js";

interface PreviousState {
  apphostPid?: number;
  apphostIdentity?: string;
  resources?: Array<{ name: string; pid: number | null; pidIdentity?: string }>;
}

/**
 * Which process a pid is: the boot id plus the process's start time (in clock ticks since boot,
 * field 22 of /proc/<pid>/stat). A pid reused after a reboot or a wrap-around has another
 * identity. Undefined when the process does not exist.
 */
export async function processIdentity(pid: number): Promise<string | undefined> {
  try {
    const [bootId, stat] = await Promise.all([
      fs.readFile("/proc/sys/kernel/random/boot_id", "utf8"),
      fs.readFile(`/proc/${pid}/stat`, "utf8"),
    ]);
    // The command name (field 2) may contain spaces and parentheses: count from its closing one.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const startTime = fields[19];
    return startTime === undefined ? undefined : `${bootId.trim()}:${startTime}`;
  } catch {
    return undefined;
  }
}

/**
 * Makes sure an earlier AppHost using the same state directory is gone: refuses to run beside a live
 * one, and ends process groups an AppHost killed with SIGKILL could not clean up — only when the
 * pid still names the very process that AppHost started (same boot, same start time).
 */
export async function clearLeftovers(stateFile: string, log: (message: string) => void): Promise<void> {
  const previous = await readJsonFile<PreviousState>(stateFile).catch(() => undefined);
  if (!previous) return;
  const apphost = previous.apphostPid;
  if (
    apphost &&
    apphost !== process.pid &&
    (await isAlive(apphost)) &&
    (previous.apphostIdentity === undefined || (await processIdentity(apphost)) === previous.apphostIdentity)
  ) {
    throw new Error(
      `Another AppHost (pid ${apphost}) is running with ${stateFile}; stop it first (Ctrl+C or kill ${apphost}).`,
    );
  }
  for (const resource of previous.resources ?? []) {
    if (!resource.pid || !(await isAlive(resource.pid))) continue;
    const identity = await processIdentity(resource.pid);
    if (resource.pidIdentity === undefined || identity !== resource.pidIdentity) {
      log(
        `pid ${resource.pid} of ${resource.name} in ${stateFile} is now ${resource.pidIdentity === undefined ? "unverifiable (no identity recorded)" : "another process"}: leaving it alone`,
      );
      continue;
    }
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
