import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildApp } from "./app.js";
import type { AppBuilder } from "./model/app-builder.js";
import { DistributedApplication } from "./runtime/distributed-application.js";

/** The repository root (this file lives in apphost/src). */
export const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export type TestMode = "process" | "container";

export interface TestAppOptions {
  /** Defaults to this repository's model (apphost/src/app.ts). */
  model?: AppBuilder;
  /** Print resource output (set APPHOST_TEST_LOGS=1 to see it while debugging). */
  console?: boolean;
  /** How infrastructure runs; default `testMode()`. */
  mode?: TestMode;
}

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
 */
export async function startTestApp(options: TestAppOptions = {}): Promise<DistributedApplication> {
  const stateDir = await fs.mkdtemp(path.join(os.tmpdir(), "outbox-apphost-test-"));
  const app = new DistributedApplication(options.model ?? buildApp(), {
    rootDir: repositoryRoot,
    stateDir,
    mode: options.mode ?? testMode(),
    console: options.console ?? process.env.APPHOST_TEST_LOGS === "1",
  });
  try {
    await app.start();
  } catch (error) {
    // start() has stopped what it started; the containers' volumes and the directory go too.
    await removeTestState(app).catch(() => {});
    throw error;
  }
  return app;
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
  await fs.rm(app.stateDir, { recursive: true, force: true });
}
