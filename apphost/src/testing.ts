import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadModelFile } from "./cli/model-file.js";
import type { AppBuilder } from "./model/app-builder.js";
import { removeRelocatedClusters } from "./providers/process/postgres-initdb.js";
import { DistributedApplication } from "./runtime/distributed-application.js";
import { ApplicationStartError } from "./runtime/start-errors.js";

/** This repository's root (this file lives in apphost/src); its own tests resolve paths with it. */
export const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export type TestMode = "process" | "container";

export interface TestAppOptions {
  /** Defaults to the model file in `rootDir` (apphost.ts), as the CLI would load it. */
  model?: AppBuilder;
  /**
   * The project root the model's folders resolve against (default: the current directory, where
   * a test runner runs, as `npx apphost` uses the model file's folder).
   */
  rootDir?: string;
  /** Print resource output (set APPHOST_TEST_LOGS=1 to see it while debugging). */
  console?: boolean;
  /** How infrastructure runs; default `testMode()`. */
  mode?: TestMode;
  /**
   * How long the whole start may take before the harness stops what it started and fails
   * (default 240 s: below the integration projects' 300 s hook timeout, so that a slow start
   * fails the hook with a reason and leaves no process behind instead of being abandoned).
   */
  startTimeoutMs?: number;
}

/** The default of `TestAppOptions.startTimeoutMs`. */
export const DEFAULT_TEST_START_TIMEOUT_MS = 240_000;

/**
 * The mode a test run asks for: `APPHOST_TEST_MODE` (the vitest projects `integration` and
 * `integration-container` set it), else process.
 */
export function testMode(env: NodeJS.ProcessEnv = process.env): TestMode {
  const mode = env.APPHOST_TEST_MODE ?? "process";
  if (mode !== "process" && mode !== "container") {
    throw new Error(`APPHOST_TEST_MODE must be "process" or "container", got "${mode}"`);
  }
  return mode;
}

/**
 * Starts the application model in a fresh temporary state directory, like Aspire.Hosting.Testing's
 * DistributedApplicationTestingBuilder: the returned application gives endpoints and connection
 * strings, and kills, starts and waits for single resources.
 *
 * A resource that fails to start fails this at once with an ApplicationStartError naming it and
 * its cause; a start that takes longer than `startTimeoutMs` fails naming what was not healthy yet.
 * Either way everything that had started is stopped and the state directory removed first.
 */
export async function startTestApp(options: TestAppOptions = {}): Promise<DistributedApplication> {
  const stateDir = await fs.mkdtemp(path.join(os.tmpdir(), "outbox-apphost-test-"));
  const rootDir = options.rootDir ?? process.cwd();
  const model = options.model ?? (await loadModelFile(undefined, rootDir)).model;
  const app = new DistributedApplication(model, {
    rootDir,
    stateDir,
    mode: options.mode ?? testMode(),
    console: options.console ?? process.env.APPHOST_TEST_LOGS === "1",
  });
  const timeoutMs = options.startTimeoutMs ?? DEFAULT_TEST_START_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  const starting = app.start();
  try {
    await Promise.race([
      starting,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(notStartedInTime(app, timeoutMs)), timeoutMs);
      }),
    ]);
  } catch (error) {
    // After a timeout the start is still running: stop() cancels it and stops what it started
    // (after a failure, start() already did). The containers' volumes and the directory go too.
    starting.catch(() => {});
    await app.stop();
    await removeTestState(app).catch(() => {});
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return app;
}

/** What was not healthy when the time ran out, with every resource's pid at that moment. */
function notStartedInTime(app: DistributedApplication, timeoutMs: number): ApplicationStartError {
  const resources = app.snapshot();
  const failures = resources
    .filter((r) => !(r.state === "Running" && r.health === "Healthy"))
    .map((r) => ({
      resource: r.name,
      reason: `${r.state}${r.stateReason ? `: ${r.stateReason}` : ""}${r.healthDetail ? ` (health: ${r.healthDetail})` : ""}`,
      lastOutput: app.logs.recentLines(r.name, 5),
    }));
  return new ApplicationStartError(
    failures,
    resources,
    `The application did not start within ${timeoutMs / 1000} s`,
  );
}

/**
 * Stops the application and removes its temporary state directory and, in container mode, its
 * containers and volumes (everything is kept when KEEP_APPHOST_STATE=1, to read the logs).
 */
export async function stopTestApp(app: DistributedApplication | undefined): Promise<void> {
  if (!app) return;
  try {
    await app.stop();
  } finally {
    if (process.env.KEEP_APPHOST_STATE !== "1") await removeTestState(app);
  }
}

async function removeTestState(app: DistributedApplication): Promise<void> {
  if (app.mode === "container") {
    const { removeContainers, removeVolumes } = await import("./providers/container/docker-objects.js");
    await removeContainers(app.stateDir);
    await removeVolumes(app.stateDir);
  }
  // As root, clusters the postgres user could not keep below the (0700) temporary directory.
  await removeRelocatedClusters(app.stateDir);
  await fs.rm(app.stateDir, { recursive: true, force: true });
}
