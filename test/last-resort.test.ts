import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { repositoryRoot } from "@outbox/apphost/testing";

const script = path.join(repositoryRoot, "test/support/last-resort-child.ts");

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function failWith(
  command: "throw" | "reject",
): Promise<{ code: number | null; output: string; pid: number }> {
  const child = spawn(process.execPath, ["--conditions=outbox-source", "--import", "tsx", script], {
    cwd: repositoryRoot,
    stdio: ["pipe", "pipe", "inherit"],
  });
  let output = "";
  const ready = new Promise<number>((resolve, reject) => {
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      output += chunk;
      const match = /READY (\d+)/.exec(output);
      if (match) resolve(Number(match[1]));
    });
    child.once("exit", () => reject(new Error(`child exited before READY:\n${output}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const pid = await ready;
  // Precondition: the grandchild runs in its own process group, like PostgreSQL under the AppHost.
  expect(isAlive(pid)).toBe(true);
  child.stdin.write(`${command}\n`);
  const code = await exited;
  await fs.rm(path.join(os.tmpdir(), `last-resort-${child.pid}`), { recursive: true, force: true });
  return { code, output, pid };
}

describe("last-resort handler", () => {
  it("an uncaught exception stops every child cleanly, then the AppHost exits 1", async () => {
    const { code, output, pid } = await failWith("throw");
    expect(code).toBe(1);
    expect(output).toContain("uncaught exception: Error: boom from a timer");
    expect(output).toContain("stopping sleeper");
    expect(output).toContain("every resource stopped");
    expect(isAlive(pid)).toBe(false);
  });

  it("an unhandled rejection does the same", async () => {
    const { code, output, pid } = await failWith("reject");
    expect(code).toBe(1);
    expect(output).toContain("unhandled promise rejection: Error: rejected and forgotten");
    expect(isAlive(pid)).toBe(false);
  });
});
