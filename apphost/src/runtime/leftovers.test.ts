import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { clearLeftovers, processIdentity } from "./leftovers.js";

const children: ChildProcess[] = [];
let dir: string | undefined;
afterEach(async () => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

function sleeper(): number {
  const child = spawn("sleep", ["600"], { detached: true, stdio: "ignore" });
  children.push(child);
  if (child.pid === undefined) throw new Error("sleep did not start");
  return child.pid;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function stateFile(
  resources: Array<{ name: string; pid: number; pidIdentity?: string }>,
): Promise<string> {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "leftovers-test-"));
  const file = path.join(dir, "state.json");
  await fs.writeFile(file, JSON.stringify({ apphostPid: 999_999_999, resources }));
  return file;
}

describe("leftover processes", () => {
  it("identifies a process by boot id and start time", async () => {
    const pid = sleeper();
    const identity = await processIdentity(pid);
    expect(identity).toMatch(/^[0-9a-f-]{36}:\d+$/);
    expect(await processIdentity(pid)).toBe(identity);
    expect(await processIdentity(process.pid)).not.toBe(identity);
    expect(await processIdentity(999_999_999)).toBeUndefined();
  });

  it("ends a leftover whose identity matches the state file", async () => {
    const pid = sleeper();
    const file = await stateFile([{ name: "pg", pid, pidIdentity: await processIdentity(pid) }]);
    const log: string[] = [];
    await clearLeftovers(file, (m) => log.push(m));
    await expect
      .poll(() => alive(pid) && !children[0]?.exitCode && children[0]?.signalCode === null)
      .toBe(false);
    expect(log.join("\n")).toContain(`ending pg (pid ${pid})`);
  });

  it("never kills a process whose pid was reused (other start time) or whose identity is unknown", async () => {
    const reused = sleeper();
    const unknown = sleeper();
    const file = await stateFile([
      { name: "pg", pid: reused, pidIdentity: "00000000-0000-0000-0000-000000000000:1" },
      { name: "broker", pid: unknown },
    ]);
    const log: string[] = [];
    await clearLeftovers(file, (m) => log.push(m));
    expect(alive(reused)).toBe(true);
    expect(alive(unknown)).toBe(true);
    expect(log.join("\n")).toContain("is now another process: leaving it alone");
    expect(log.join("\n")).toContain("unverifiable");
  });
});
