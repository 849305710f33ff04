import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repositoryRoot } from "@outbox/apphost/testing";
import { probeContainerRuntime } from "../apphost/src/providers/container/container-runtime.js";
import {
  listOwned,
  removeContainers,
  removeVolumes,
} from "../apphost/src/providers/container/docker-objects.js";
import { useAvailableImages } from "./support/test-images.js";

// `npm run apphost` as a user runs it: a child process, stopped with Ctrl+C (SIGINT) or SIGTERM.
const cli = path.join(repositoryRoot, "apphost/src/cli.ts");
const stateDirs: string[] = [];
/** Every AppHost started here: a failed assertion must not leave one running. */
const runs: Run[] = [];

interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const child = spawn(
    process.execPath,
    ["--conditions=outbox-source", "--import", "tsx", cli, "--no-color", "--dashboard-port", "0", ...args],
    {
      cwd: repositoryRoot,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const run = { child, output: () => output, exited };
  runs.push(run);
  return run;
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
  mode: string;
  resources: Array<{
    name: string;
    pid: number | null;
    state: string;
    endpoints: Record<string, string>;
    container?: { id: string; image: string };
  }>;
}

async function readState(stateDir: string): Promise<State> {
  return JSON.parse(await fs.readFile(path.join(stateDir, "state.json"), "utf8")) as State;
}

async function postEntity(sender: string | undefined, name: string): Promise<string> {
  const created = await fetch(`${sender}/api/EntityItems`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name }),
  });
  expect(created.status).toBe(201);
  return ((await created.json()) as { id: string }).id;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
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

let engine = false;

beforeAll(async () => {
  engine = (await probeContainerRuntime()).available;
});

afterAll(async () => {
  for (const run of runs) {
    if (run.child.exitCode !== null || run.child.signalCode !== null) continue;
    run.child.kill("SIGINT");
    const stopped = await Promise.race([
      run.exited.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 30_000)),
    ]);
    if (!stopped) run.child.kill("SIGKILL");
  }
  for (const dir of stateDirs) {
    if (engine) {
      await removeContainers(dir);
      await removeVolumes(dir);
    }
    await fs.rm(dir, { recursive: true, force: true });
  }
});

describe("npm run apphost", () => {
  it("refuses --mode container with a message naming what is missing and how to get it", async () => {
    // An image that exists nowhere: with an engine the image is what is missing, without one the engine.
    const run = runCli(["--mode", "container"], { APPHOST_IMAGE_SENDER_PG: "outbox-apphost/missing:0" });
    expect(await run.exited).not.toBe(0);
    if (engine) {
      expect(run.output()).toMatch(
        /--mode container: image outbox-apphost\/missing:0 \(for "sender-pg", APPHOST_IMAGE_SENDER_PG\) is not present and cannot be pulled .*npm run images/,
      );
    } else {
      expect(run.output()).toMatch(/--mode container: no container runtime answers/);
    }
  });

  it("falls back to processes in auto mode with one line naming the missing image", async () => {
    const stateDir = await fs.mkdtemp(path.join(os.tmpdir(), "outbox-apphost-cli-"));
    stateDirs.push(stateDir);
    const run = runCli(["--state-dir", stateDir], { APPHOST_IMAGE_BROKER: "outbox-apphost/missing:0" });
    await waitForOutput(run, "starting outbox-apphost (mode process");
    const reason = engine
      ? /image outbox-apphost\/missing:0 .* using local processes; .*npm run images/
      : /no container runtime/;
    expect(run.output()).toMatch(reason);
    run.child.kill("SIGINT");
    expect(await run.exited).toBe(0);
  });

  it("rejects an unknown mode with usage help", async () => {
    const run = runCli(["--mode", "kubernetes"]);
    expect(await run.exited).toBe(2);
    expect(run.output()).toContain("--mode must be auto, process or container");
  });

  it("prints where everything is, stops on Ctrl+C leaving no process behind, and keeps data for the next run (process mode)", async () => {
    const stateDir = await fs.mkdtemp(path.join(os.tmpdir(), "outbox-apphost-cli-"));
    stateDirs.push(stateDir);

    const first = runCli(["--mode", "process", "--state-dir", stateDir]);
    await waitForOutput(first, "all resources running and healthy");
    await waitForOutput(first, "Press Ctrl+C");
    expect(first.output()).toContain("(mode process,");
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

    const second = runCli(["--mode", "process", "--state-dir", stateDir]);
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

  it("exits non-zero when a resource fails to start, printing its cause and who waited for it, leaving nothing running (process mode)", async () => {
    const stateDir = await fs.mkdtemp(path.join(os.tmpdir(), "outbox-apphost-cli-"));
    stateDirs.push(stateDir);
    // Reachable by the postgres user (as root), so that its servers' command lines name this directory.
    await fs.chmod(stateDir, 0o755);
    const missing = path.join(stateDir, "no-artemis-here");
    const run = runCli(["--mode", "process", "--state-dir", stateDir], { ARTEMIS_HOME: missing });
    expect(await run.exited).toBe(1);
    const output = run.output();
    const cause = `ARTEMIS_HOME=${missing} is not an Apache Artemis distribution`;
    expect(output).toMatch(
      new RegExp(`✗ broker +failed to start: ${escape(cause)}.*\\(log: npm run apphost -- logs broker\\)`),
    );
    expect(output).toMatch(/✗ sender +not started: waited for broker, which failed to start/);
    expect(output).toMatch(/✗ receiver +not started: waited for broker, which failed to start/);
    expect(output).toContain(`apphost | The application failed to start:\nbroker: ${cause}`);

    const state = JSON.parse(await fs.readFile(path.join(stateDir, "state.json"), "utf8")) as {
      resources: Array<{ name: string; state: string; stateReason?: string; failedDependency?: string }>;
    };
    const byName = new Map(state.resources.map((r) => [r.name, r]));
    expect(byName.get("broker")).toMatchObject({ state: "FailedToStart" });
    expect(byName.get("broker")?.stateReason).toContain(cause);
    for (const dependent of ["sender", "receiver"])
      expect(byName.get(dependent), dependent).toMatchObject({
        state: "FailedToStart",
        failedDependency: "broker",
      });
    expect(await fs.readFile(path.join(stateDir, "logs", "broker.log"), "utf8")).toContain(
      `failed to start: ${cause}`,
    );
    expect(await processesMentioning(stateDir)).toEqual([]);
  });

  it("--detach returns the failure at once: non-zero, naming the resource and its cause (process mode)", async () => {
    const stateDir = await fs.mkdtemp(path.join(os.tmpdir(), "outbox-apphost-cli-"));
    stateDirs.push(stateDir);
    await fs.chmod(stateDir, 0o755);
    const missing = path.join(stateDir, "no-artemis-here");
    const run = runCli(["--detach", "--mode", "process", "--state-dir", stateDir], { ARTEMIS_HOME: missing });
    expect(await run.exited).toBe(1);
    expect(run.output()).toContain("the AppHost exited during start-up (code 1)");
    expect(run.output()).toContain(
      `The application failed to start:\nbroker: ARTEMIS_HOME=${missing} is not an Apache Artemis distribution`,
    );
    expect(await processesMentioning(stateDir)).toEqual([]);
  });

  it("stops its services by themselves when the AppHost is SIGKILLed; the next start ends the servers it left (process mode)", async () => {
    const stateDir = await fs.mkdtemp(path.join(os.tmpdir(), "outbox-apphost-cli-"));
    stateDirs.push(stateDir);
    const first = runCli(["--mode", "process", "--state-dir", stateDir]);
    await waitForOutput(first, "all resources running and healthy");
    const state = await readState(stateDir);
    const servicePids = state.resources
      .filter((r) => r.name === "sender" || r.name === "receiver")
      .map((r) => r.pid)
      .filter((p): p is number => p !== null);
    expect(servicePids).toHaveLength(2);
    expect(servicePids.every(isAlive)).toBe(true);

    first.child.kill("SIGKILL");
    await first.exited;
    // Each service notices its parent is gone (within its 1 s check) and shuts down gracefully.
    // Without that check they would run on: pino drops lines once stdout's reader is gone (EPIPE).
    const deadline = Date.now() + 30_000;
    while (servicePids.some(isAlive) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 100));
    expect(servicePids.filter(isAlive), "services still running 30 s after the AppHost died").toEqual([]);

    // PostgreSQL and Artemis cannot watch the AppHost: the next start ends them, then runs normally.
    const second = runCli(["--mode", "process", "--state-dir", stateDir]);
    await waitForOutput(second, "all resources running and healthy");
    const secondPids = (await readState(stateDir)).resources
      .map((r) => r.pid)
      .filter((p): p is number => p !== null);
    second.child.kill("SIGINT");
    expect(await second.exited).toBe(0);
    expect(secondPids.filter(isAlive)).toEqual([]);
    expect(await processesMentioning(stateDir)).toEqual([]);
  });

  it("runs PostgreSQL and Artemis as containers: Ctrl+C removes them and keeps the data, a SIGKILLed AppHost's containers go at the next start, --fresh removes the data", async () => {
    // Needs an engine: this test fails (never skips) on a machine without one.
    expect(engine, "a container engine answers").toBe(true);
    await useAvailableImages();
    const stateDir = await fs.mkdtemp(path.join(os.tmpdir(), "outbox-apphost-cli-"));
    stateDirs.push(stateDir);
    const infrastructure = ["sender-pg", "receiver-pg", "broker"];

    const first = runCli(["--mode", "container", "--state-dir", stateDir]);
    await waitForOutput(first, "all resources running and healthy", 240_000);
    expect(first.output()).toContain("(mode container,");
    const state = await readState(stateDir);
    expect(state.mode).toBe("container");
    for (const name of infrastructure) {
      expect(state.resources.find((r) => r.name === name)?.container?.id, name).toMatch(/^[0-9a-f]{64}$/);
    }
    const owned = await listOwned(stateDir);
    expect(owned.containers).toHaveLength(3);
    expect(owned.volumes).toHaveLength(3);
    const id = await postEntity(
      state.resources.find((r) => r.name === "sender")?.endpoints.http,
      "in a container",
    );
    const servicePids = state.resources.map((r) => r.pid).filter((p): p is number => p !== null);

    first.child.kill("SIGINT");
    expect(await first.exited).toBe(0);
    expect(servicePids.filter(isAlive)).toEqual([]);
    // Containers removed, volumes kept.
    const afterStop = await listOwned(stateDir);
    expect(afterStop.containers).toEqual([]);
    expect(afterStop.volumes.sort()).toEqual([...owned.volumes].sort());

    const second = runCli(["--mode", "container", "--state-dir", stateDir]);
    await waitForOutput(second, "all resources running and healthy", 240_000);
    const secondState = await readState(stateDir);
    const senderAgain = secondState.resources.find((r) => r.name === "sender")?.endpoints.http;
    expect((await fetch(`${senderAgain}/api/EntityItems/${id}`)).status).toBe(200);
    // The same host ports: clients keep their addresses across runs.
    for (const name of infrastructure) {
      expect(secondState.resources.find((r) => r.name === name)?.endpoints, name).toEqual(
        state.resources.find((r) => r.name === name)?.endpoints,
      );
    }

    // An AppHost killed outright cannot clean up: its containers stay until the next start.
    second.child.kill("SIGKILL");
    await second.exited;
    expect((await listOwned(stateDir)).containers).toHaveLength(3);

    const third = runCli(["--mode", "container", "--fresh", "--state-dir", stateDir]);
    await waitForOutput(third, "all resources running and healthy", 240_000);
    // The AppHost's own messages go to its log file (the console stays quiet without --verbose).
    const apphostLog = await fs.readFile(path.join(stateDir, "logs", "apphost.log"), "utf8");
    expect(apphostLog.match(/removed container left over from an earlier run/g)).toHaveLength(3);
    expect(apphostLog).toContain("--fresh: removed volume");
    const thirdState = await readState(stateDir);
    const senderFresh = thirdState.resources.find((r) => r.name === "sender")?.endpoints.http;
    expect((await fetch(`${senderFresh}/api/EntityItems/${id}`)).status).toBe(404);
    const thirdPids = thirdState.resources.map((r) => r.pid).filter((p): p is number => p !== null);

    third.child.kill("SIGTERM");
    expect(await third.exited).toBe(0);
    expect(thirdPids.filter(isAlive)).toEqual([]);
    expect((await listOwned(stateDir)).containers).toEqual([]);
    expect(await processesMentioning(stateDir)).toEqual([]);
  }, 900_000);
});
