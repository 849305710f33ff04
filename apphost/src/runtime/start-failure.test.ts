import fs from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createApp } from "../model/app-builder.js";
import { repositoryRoot } from "../testing.js";
import { DistributedApplication } from "./distributed-application.js";

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await fs.rm(dir, { recursive: true, force: true });
});

describe("a service that dies during start-up", () => {
  it("fails the start at once with its exit code, not at the health timeout", async () => {
    // Inside the repository (git-ignored): the service is started with the repository's tsx and telemetry hooks.
    await fs.mkdir(path.join(repositoryRoot, "test-results"), { recursive: true });
    const dir = await fs.mkdtemp(path.join(repositoryRoot, "test-results", "apphost-crash-"));
    dirs.push(dir);
    await fs.mkdir(path.join(dir, "svc", "src"), { recursive: true });
    await fs.writeFile(path.join(dir, "svc", "src", "main.ts"), 'console.error("boom"); process.exit(3);\n');
    const model = createApp();
    model.addNodeService("svc", path.join(dir, "svc")).withHttpEndpoint().withHttpHealthCheck("/health");
    const app = new DistributedApplication(model, {
      rootDir: repositoryRoot,
      stateDir: path.join(dir, "state"),
      healthTimeoutMs: 120_000,
    });
    const started = Date.now();
    await expect(app.start()).rejects.toThrow(/svc: exited before becoming healthy \(code 3\)/);
    expect(Date.now() - started).toBeLessThan(60_000);
  });
});
