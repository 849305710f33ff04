// Global set-up of the `integration-container` project: the same tests as `integration`, with
// infrastructure in containers. It fails (never skips) without an engine or images, saying what to
// do, and removes what crashed test runs left behind.
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { probeContainerRuntime } from "../../apphost/src/providers/container/container-runtime.js";
import { removeOrphans } from "../../apphost/src/providers/container/docker-objects.js";
import { useAvailableImages } from "./test-images.js";

const exists = (dir: string) =>
  fs.access(dir).then(
    () => true,
    () => false,
  );

async function sweep(): Promise<void> {
  const removed = await removeOrphans(path.join(os.tmpdir(), "outbox-apphost-"), exists);
  if (removed.length > 0)
    console.log(`container tests: removed leftovers of earlier runs: ${removed.join(", ")}`);
}

export async function setup(): Promise<void> {
  const probe = await probeContainerRuntime();
  if (!probe.available) {
    throw new Error(
      `The integration-container tests need a Docker engine (${probe.reason}). Start one (.ci/run does), ` +
        "or run the process-mode tests only: npx vitest run --project unit --project integration",
    );
  }
  await useAvailableImages((message) => console.log(`container tests: ${message}`));
  await sweep();
}

export async function teardown(): Promise<void> {
  await sweep();
}
