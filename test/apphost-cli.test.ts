import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { repositoryRoot } from "@outbox/apphost/testing";

// `npm run apphost` as a user runs it: a child process, stopped with Ctrl+C (SIGINT) or SIGTERM.
const cli = path.join(repositoryRoot, "apphost/src/cli.ts");
const stateDirs: string[] = [];

interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function runCli(args: string[]): Run {
  const child = spawn(process.execPath, ["--import", "tsx", cli, "--no-color", ...args], {
    cwd: repositoryRoot,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function waitForOutput(run: Run, text: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!run.output().includes(text)) {
    if (Date.now() > deadline)
      throw new Error(`"${text}" not printed within ${timeoutMs} ms:\n${run.output().slice(-3000)}`);
    if (run.child.exitCode !== null)
      throw new Error(`the AppHost exited early:\n${run.output().slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

interface State {
  apphostPid: number;
  resources: Array<{ name: string; pid: number | null; state: string; endpoints: Record<string, string> }>;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Processes whose command line mentions the directory: anything the AppHost left behind. */
async function processesMentioning(directory: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await fs.readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await fs.readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    if (cmdline.includes(directory)) found.push(`${entry}: ${cmdline.replaceAll("\0", " ").slice(0, 200)}`);
  }
  return found;
}

afterAll(async () => {
  for (const dir of stateDirs) await fs.rm(dir, { recursive: true, force: true });
});

describe("npm run apphost", () => {
  it("refuses --mode container with a clear message while no container provider exists", async () => {
    const run = runCli(["--mode", "container"]);
    expect(await run.exited).not.toBe(0);
    expect(run.output()).toMatch(/--mode container: .*(no container runtime|no container provider)/);
  });

  it("rejects an unknown mode with usage help", async () => {
    const run = runCli(["--mode", "kubernetes"]);
    expect(await run.exited).toBe(2);
    expect(run.output()).toContain("--mode must be auto, process or container");
  });

  it("prints where everything is, stops on Ctrl+C leaving no process behind, and keeps data for the next run", async () => {
    const stateDir = await fs.mkdtemp(path.join(os.tmpdir(), "outbox-apphost-cli-"));
    stateDirs.push(stateDir);

    const first = runCli(["--state-dir", stateDir]);
    await waitForOutput(first, "all resources running and healthy");
    await waitForOutput(first, "Press Ctrl+C");
    expect(first.output()).toContain("no container runtime");
    expect(first.output()).toMatch(/swagger\s+http:\/\/127\.0\.0\.1:\d+\/swagger/);

    const state = JSON.parse(await fs.readFile(path.join(stateDir, "state.json"), "utf8")) as State;
    const sender = state.resources.find((r) => r.name === "sender")?.endpoints.http;
    expect(sender).toBeDefined();
    const created = await fetch(`${sender}/api/EntityItems`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "survives a restart" }),
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    const pids = state.resources.map((r) => r.pid).filter((p): p is number => p !== null);
    expect(pids.length).toBeGreaterThanOrEqual(5);

    first.child.kill("SIGINT");
    expect(await first.exited).toBe(0);
    expect(first.output()).toContain("nothing left running");
    expect(pids.filter(isAlive)).toEqual([]);
    expect(await processesMentioning(stateDir)).toEqual([]);
    // Per-resource logs are on disk.
    expect((await fs.readdir(path.join(stateDir, "logs"))).sort()).toEqual(
      expect.arrayContaining(["broker.log", "receiver.log", "sender-pg.log", "sender.log"]),
    );

    const second = runCli(["--state-dir", stateDir]);
    await waitForOutput(second, "all resources running and healthy");
    const secondState = JSON.parse(await fs.readFile(path.join(stateDir, "state.json"), "utf8")) as State;
    const senderAgain = secondState.resources.find((r) => r.name === "sender")?.endpoints.http;
    const fetched = await fetch(`${senderAgain}/api/EntityItems/${id}`);
    expect(fetched.status).toBe(200);
    const secondPids = secondState.resources.map((r) => r.pid).filter((p): p is number => p !== null);

    second.child.kill("SIGTERM");
    expect(await second.exited).toBe(0);
    expect(secondPids.filter(isAlive)).toEqual([]);
    expect(await processesMentioning(stateDir)).toEqual([]);
  });
});
