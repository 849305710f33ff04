import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildApp } from "./app.js";
import type { AppBuilder } from "./model/app-builder.js";
import { DistributedApplication } from "./runtime/distributed-application.js";

/** The repository root (this file lives in apphost/src). */
export const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export interface TestAppOptions {
  /** Defaults to this repository's model (apphost/src/app.ts). */
  model?: AppBuilder;
  /** Print resource output (set APPHOST_TEST_LOGS=1 to see it while debugging). */
  console?: boolean;
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
    mode: "process",
    console: options.console ?? process.env.APPHOST_TEST_LOGS === "1",
  });
  try {
    await app.start();
  } catch (error) {
    await fs.rm(stateDir, { recursive: true, force: true }).catch(() => {});
    throw error;
  }
  return app;
}

/** Stops the application and removes its temporary state directory (logs are kept when KEEP_APPHOST_STATE=1). */
export async function stopTestApp(app: DistributedApplication | undefined): Promise<void> {
  if (!app) return;
  await app.stop();
  if (process.env.KEEP_APPHOST_STATE !== "1") await fs.rm(app.stateDir, { recursive: true, force: true });
}
