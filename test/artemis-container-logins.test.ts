import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp, DistributedApplication } from "@outbox/apphost";
import { repositoryRoot } from "@outbox/apphost/testing";
import { configureRyuk } from "../apphost/src/providers/container/container-runtime.js";
import {
  LABELS,
  removeContainers,
  removeVolumes,
  runtimeClient,
} from "../apphost/src/providers/container/docker-objects.js";
import { linesWithSecrets, watchCommandLines } from "./support/command-lines.js";
import { useAvailableImages } from "./support/test-images.js";

// Container mode, a broker volume that already exists: the image creates no instance, so a changed
// password reaches the broker only through the AppHost's login-file update, which copies the files
// it placed in etc-override/ (no password, no hash on a command line). The start then logs in with
// the new password (topology check), which fails if the update did not land.

let stateDir: string;

beforeAll(async () => {
  await configureRyuk(() => {});
  await useAvailableImages();
  stateDir = await fs.mkdtemp(path.join(os.tmpdir(), "outbox-apphost-artemis-logins-"));
});

afterAll(async () => {
  await removeContainers(stateDir).catch(() => []);
  await removeVolumes(stateDir).catch(() => []);
  await fs.rm(stateDir, { recursive: true, force: true });
});

/**
 * The command lines of every `docker exec` into this test's containers between two times, from
 * the engine's events (an exec lasts milliseconds, too short for sampling /proc).
 */
async function execCommandLines(sinceSeconds: number, untilSeconds: number): Promise<string[]> {
  const docker = (await runtimeClient()).container.dockerode;
  const stream = await docker.getEvents({
    since: sinceSeconds,
    until: untilSeconds,
    filters: { event: ["exec_create"], label: [`${LABELS.stateDir}=${stateDir}`] },
  });
  let text = "";
  for await (const chunk of stream) text += (chunk as Buffer).toString();
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => (JSON.parse(line) as { Action: string }).Action.replace(/^exec_create: /, ""));
}

function brokerApp(): DistributedApplication {
  const model = createApp({ name: "artemis-logins" });
  model.addArtemis("broker");
  return new DistributedApplication(model, { rootDir: repositoryRoot, stateDir, mode: "container" });
}

describe("the broker's logins on an existing volume (container mode)", () => {
  it("are updated in place when the password changed, without a secret on a command line", async () => {
    const first = brokerApp();
    try {
      await first.start();
    } finally {
      await first.stop();
    }
    // A new admin password for the next start, as if settings.json had been edited.
    const settingsFile = path.join(stateDir, "settings.json");
    const settings = JSON.parse(await fs.readFile(settingsFile, "utf8")) as {
      broker: { secrets: { password: string } };
    };
    const changed = `Changed${Date.now()}Passw0rd`;
    settings.broker.secrets.password = changed;
    await fs.writeFile(settingsFile, JSON.stringify(settings), { mode: 0o600 });

    const second = brokerApp();
    const since = Math.floor(Date.now() / 1000) - 1;
    const watch = watchCommandLines();
    try {
      await second.start();
      const commands = await watch.stop();
      const log = await fs.readFile(second.logs.fileOf("broker"), "utf8");
      // Precondition: the instance existed, so the update (not the image's creation) did it.
      expect(log).toContain("skipping broker instance creation");
      expect(log).toContain("updating the broker's users");
      expect(second.getConnectionString("broker")).toContain(`:${changed}@`);
      const execs = await execCommandLines(since, Math.ceil(Date.now() / 1000) + 1);
      // Precondition: the engine kept the update's exec.
      expect(execs.some((c) => c.includes("mv") && c.includes("/etc/artemis-users.properties"))).toBe(true);
      for (const seen of [commands, execs]) {
        expect(linesWithSecrets(seen, [changed])).toEqual([]);
        // Not even the password hashes.
        expect(seen.filter((c) => c.includes("ENC("))).toEqual([]);
      }
    } finally {
      await watch.stop();
      await second.stop();
    }
  });
});
