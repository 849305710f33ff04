import fs from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createApp } from "../apphost/src/model/app-builder.js";
import { DistributedApplication } from "../apphost/src/runtime/distributed-application.js";
import { repositoryRoot } from "../apphost/src/testing.js";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

const HEALTHY_SERVICE = `import http from "node:http";
http.createServer((_req, res) => res.end("ok")).listen(Number(process.env.PORT), "127.0.0.1");
`;

describe("a resource started while what it waits for is down", () => {
  it("waits, says for what, and starts once that resource is started again", async () => {
    await fs.mkdir(path.join(repositoryRoot, "test-results"), { recursive: true });
    const dir = await fs.mkdtemp(path.join(repositoryRoot, "test-results", "waiting-dependents-"));
    cleanups.push(() => fs.rm(dir, { recursive: true, force: true }));
    for (const name of ["dep", "svc"]) {
      await fs.mkdir(path.join(dir, name, "src"), { recursive: true });
      await fs.writeFile(path.join(dir, name, "src", "main.ts"), HEALTHY_SERVICE);
    }
    const model = createApp({ name: "waiting-dependents" });
    const dep = model
      .addNodeService("dep", path.join(dir, "dep"))
      .withHttpEndpoint()
      .withHttpHealthCheck("/");
    model
      .addNodeService("svc", path.join(dir, "svc"))
      .waitFor(dep)
      .withHttpEndpoint()
      .withHttpHealthCheck("/");
    const app = new DistributedApplication(model, {
      rootDir: repositoryRoot,
      stateDir: path.join(dir, "state"),
    });
    cleanups.push(() => app.stop());
    await app.start();

    await app.stopResource("svc");
    await app.killResource("dep");
    const svcStarted = app.startResource("svc");
    await waitFor(() => app.resource("svc").state === "Waiting");
    expect(app.resource("svc").stateReason).toBe("waiting for dep");

    await app.startResource("dep");
    await svcStarted;
    expect(app.resource("svc")).toMatchObject({ state: "Running", health: "Healthy" });
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met within 30 s");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
