import fs from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createApp } from "../apphost/src/model/app-builder.js";
import {
  DistributedApplication,
  type ResourceSnapshot,
} from "../apphost/src/runtime/distributed-application.js";
import { ApplicationStartError } from "../apphost/src/runtime/start-errors.js";
import { repositoryRoot, startTestApp } from "../apphost/src/testing.js";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

/**
 * A directory for the test's services, inside the repository (they run with its tsx and telemetry
 * hooks; test-results/ is git-ignored), 0755 so that PostgreSQL's `postgres` user reaches a state
 * directory below it when the tests run as root.
 */
async function workDir(): Promise<string> {
  await fs.mkdir(path.join(repositoryRoot, "test-results"), { recursive: true });
  const dir = await fs.mkdtemp(path.join(repositoryRoot, "test-results", "start-failure-"));
  await fs.chmod(dir, 0o755);
  cleanups.push(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

async function service(dir: string, name: string, main: string): Promise<string> {
  await fs.mkdir(path.join(dir, name, "src"), { recursive: true });
  await fs.writeFile(path.join(dir, name, "src", "main.ts"), main);
  return path.join(dir, name);
}

/**
 * ok-pg (healthy first) ← broken (its entry throws an error with a cause) ← after ← last. `broken` waits
 * for ok-pg's database, so a server is running when the failure comes: the stop must end it.
 */
async function brokenModel(dir: string) {
  const model = createApp({ name: "start-failure" });
  const okDb = model.addPostgres("ok-pg").addDatabase("okdb");
  const broken = model
    .addNodeService(
      "broken",
      await service(
        dir,
        "broken",
        'throw new Error("cannot open the widget store", { cause: new Error("WIDGET_STORE is not set") });\n',
      ),
    )
    .withReference(okDb)
    .waitFor(okDb)
    .withHttpEndpoint()
    .withHttpHealthCheck("/health");
  const after = model
    .addNodeService("after", await service(dir, "after", "setInterval(() => {}, 1000);\n"))
    .waitFor(broken)
    .withHttpEndpoint()
    .withHttpHealthCheck("/health");
  // Two levels of dependents: the second waits for one that never started at all.
  model
    .addNodeService("last", await service(dir, "last", "setInterval(() => {}, 1000);\n"))
    .waitFor(after)
    .withHttpEndpoint()
    .withHttpHealthCheck("/health");
  return model;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function pidOf(resources: ResourceSnapshot[], name: string): number {
  const pid = resources.find((r) => r.name === name)?.pid;
  if (typeof pid !== "number") throw new Error(`${name} had no pid: ${JSON.stringify(resources)}`);
  return pid;
}

describe("a resource that fails to start", () => {
  it("fails the start at once: its log, the error and state.json carry the cause, its dependents say what they waited for, nothing is left running", async () => {
    const dir = await workDir();
    const stateDir = path.join(dir, "state");
    const app = new DistributedApplication(await brokenModel(dir), {
      rootDir: repositoryRoot,
      stateDir,
      mode: "process",
      healthTimeoutMs: 600_000,
    });
    cleanups.push(() => app.stop());

    const error = await app.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ApplicationStartError);
    const failure = error as ApplicationStartError;
    expect(failure.failures.map((f) => f.resource)).toEqual(["broken"]);
    expect(failure.message).toMatch(
      /broken: exited before becoming healthy \(code 1\); cause: .*cannot open the widget store.*WIDGET_STORE is not set/,
    );
    expect(failure.message).toContain(
      "not started because of it: after (waited for broken), last (waited for after)",
    );

    // The resource's own log says why.
    const log = await fs.readFile(path.join(stateDir, "logs", "broken.log"), "utf8");
    expect(log).toMatch(
      /failed to start: exited before becoming healthy \(code 1\); cause: .*WIDGET_STORE is not set/,
    );

    // state.json: the failed resource with its reason, the dependent with the one it waited for.
    const state = JSON.parse(await fs.readFile(path.join(stateDir, "state.json"), "utf8")) as {
      resources: ResourceSnapshot[];
    };
    const byName = new Map(state.resources.map((r) => [r.name, r]));
    expect(byName.get("broken")).toMatchObject({ state: "FailedToStart" });
    expect(byName.get("broken")?.stateReason).toMatch(
      /cannot open the widget store.*WIDGET_STORE is not set/,
    );
    expect(byName.get("after")).toMatchObject({ state: "FailedToStart", failedDependency: "broken" });
    expect(byName.get("after")?.stateReason).toMatch(
      /^waited for "broken", which failed to start: exited before/,
    );
    expect(byName.get("last")).toMatchObject({ state: "FailedToStart", failedDependency: "after" });
    expect(byName.get("last")?.stateReason).toMatch(
      /^waited for "after", which failed to start: waited for "broken", which failed to start: exited before/,
    );
    expect(byName.get("ok-pg")).toMatchObject({ state: "Exited", pid: null });

    // The server that was running when the start failed is gone.
    const serverPid = pidOf(failure.resources, "ok-pg");
    expect(isAlive(serverPid)).toBe(false);
  });

  it("fails startTestApp at once, naming the resource and its cause, and stops what had started", async () => {
    const dir = await workDir();
    const error = await startTestApp({ model: await brokenModel(dir), mode: "process" }).then(
      (app) => {
        cleanups.push(() => app.stop());
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ApplicationStartError);
    const failure = error as ApplicationStartError;
    expect(failure.message).toMatch(
      /broken: exited before becoming healthy \(code 1\); cause: .*WIDGET_STORE is not set/,
    );
    expect(isAlive(pidOf(failure.resources, "ok-pg"))).toBe(false);
  });

  it("fails startTestApp when the start outlasts its time, naming what was not healthy, and stops everything", async () => {
    const dir = await workDir();
    const pidFile = path.join(dir, "slow.pid");
    const model = createApp({ name: "start-timeout" });
    const okDb = model.addPostgres("ok-pg").addDatabase("okdb");
    // Runs, but never answers its health check.
    model
      .addNodeService(
        "slow",
        await service(
          dir,
          "slow",
          'import fs from "node:fs";\nfs.writeFileSync(process.env.PID_FILE ?? "", String(process.pid));\nsetInterval(() => {}, 1000);\n',
        ),
      )
      .withEnvironment("PID_FILE", pidFile)
      .waitFor(okDb)
      .withHttpEndpoint()
      .withHttpHealthCheck("/health");

    const started = startTestApp({ model, mode: "process", startTimeoutMs: 20_000 });
    // The precondition: the slow service runs (its pid is written) before the time runs out.
    const slowPid = await waitForPidFile(pidFile);
    expect(isAlive(slowPid)).toBe(true);
    const error = await started.then(
      (app) => {
        cleanups.push(() => app.stop());
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ApplicationStartError);
    const failure = error as ApplicationStartError;
    expect(failure.message).toMatch(/^The application did not start within 20 s:\nslow: Running/);
    expect(failure.failures.map((f) => f.resource)).toEqual(["slow"]);
    expect(isAlive(slowPid)).toBe(false);
    expect(isAlive(pidOf(failure.resources, "ok-pg"))).toBe(false);
  });
});

async function waitForPidFile(file: string): Promise<number> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const pid = Number(await fs.readFile(file, "utf8").catch(() => ""));
    if (pid > 0) return pid;
    if (Date.now() > deadline) throw new Error(`${file} not written within 120 s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
