import { readFileSync } from "node:fs";

/**
 * Alive and not a zombie: a detached AppHost outlives its parent, and whoever adopted it (a
 * container's init, a test runner) may never reap it, so `kill(pid, 0)` alone would call it alive.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
}
