import { randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApplicationStartError, createApp, type DistributedApplication } from "@outbox/apphost";
import { repositoryRoot, startTestApp, stopTestApp } from "@outbox/apphost/testing";
import { runtimeClient } from "../apphost/src/providers/container/docker-objects.js";
import {
  builtImageName,
  ensureBuiltImage,
  hashBuildInputs,
} from "../apphost/src/providers/container/dockerfile-build.js";
import { inspectContainer } from "./support/containers.js";
import { eventually } from "./support/receiver.js";

// addDockerfile with replicas on a real engine: the image is built from a temporary context (a perl
// HTTP server on the local Debian base image), two replicas answer on ports of their own, one is
// killed and started again, an unchanged context is not built again, and a broken Dockerfile fails
// the start with the build's error.
const fixture = path.join(repositoryRoot, "test/fixtures/dockerfile");
// Built images are named after the app: a unique name makes them this run's alone, to remove.
const appName = `dockerfile-test-${randomUUID().slice(0, 8)}`;
let workDir: string;
let context: string;
let app: DistributedApplication | undefined;

function model(contextDir: string) {
  const model = createApp({ name: appName });
  const echo = model
    .addDockerfile("echo", contextDir, { buildArgs: { GREETING: "bonjour" } })
    .withHttpEndpoint(8080)
    .withHttpHealthCheck("/health")
    .withReplicas(2);
  return { model, echo };
}

async function text(url: string): Promise<string> {
  return (await fetch(url, { signal: AbortSignal.timeout(5000) })).text();
}

beforeAll(async () => {
  workDir = await fs.mkdtemp(path.join(os.tmpdir(), "apphost-dockerfile-"));
  context = path.join(workDir, "echo");
  await fs.cp(fixture, context, { recursive: true });
  app = await startTestApp({ model: model(context).model, mode: "container" });
});

afterAll(async () => {
  try {
    await stopTestApp(app);
  } finally {
    const docker = (await runtimeClient()).container.dockerode;
    const images = await docker.listImages({ filters: JSON.stringify({ reference: [`${appName}/*`] }) });
    for (const image of images)
      await docker
        .getImage(image.Id)
        .remove({ force: true })
        .catch(() => {});
    await fs.rm(workDir, { recursive: true, force: true });
  }
});

describe("addDockerfile with replicas", () => {
  it("builds the image and runs each replica as its own container on its own 127.0.0.1 port", async () => {
    const echo = app!.resource("echo");
    expect(echo.state).toBe("Running");
    expect(echo.health).toBe("Healthy");
    const replicas = echo.replicas ?? [];
    expect(replicas.map((r) => [r.name, r.state, r.health])).toEqual([
      ["echo-0", "Running", "Healthy"],
      ["echo-1", "Running", "Healthy"],
    ]);
    const urls = replicas.map((r) => r.endpoints.http ?? "");
    for (const url of urls) expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(new Set(urls).size).toBe(2);
    const ids = replicas.map((r) => r.container?.id ?? "");
    expect(new Set(ids).size).toBe(2);
    // Each answers from its own container (the container's hostname is its short id).
    for (const [i, url] of urls.entries())
      expect(await text(`${url}/`)).toBe(`bonjour from ${ids[i]?.slice(0, 12)}\n`);
    for (const id of ids) {
      const inspected = await inspectContainer(id);
      expect(inspected.bindings.map((b) => b.hostIp)).toEqual(["127.0.0.1"]);
      expect(inspected.labels["outbox-apphost.resource"]).toBe("echo");
    }
    // The build's output is in the resource's log; each replica's log says which image it runs.
    const log = app!.logs.recentLines("echo", 400).join("\n");
    expect(log).toMatch(new RegExp(`building ${appName}/echo:[0-9a-f]{16}`));
    expect(log).toContain("COPY server.pl /srv/server.pl");
    const built = /image \S+ \(built in [\d.]+s\)/.exec(app!.logs.recentLines("echo-0", 40).join("\n"))?.[0];
    expect(built).toBeDefined();
    console.log(`first start: ${built}`);
    // The resource's own endpoint (what a referencing service gets) is its first running replica's.
    expect(app!.getEndpoint("echo")).toBe(urls[0]);
  });

  it("kills one replica: the other keeps answering, the resource is degraded, then the replica starts again on its port", async () => {
    const before = app!.resource("echo").replicas ?? [];
    const [url0 = "", url1 = ""] = before.map((r) => r.endpoints.http ?? "");
    expect(await text(`${url1}/`)).toContain("bonjour");

    await app!.killResource("echo-1");
    expect(app!.resource("echo").replicas?.[1]?.state).toBe("Exited");
    expect(app!.resource("echo").state).toBe("Running");
    await expect(fetch(`${url1}/`, { signal: AbortSignal.timeout(5000) })).rejects.toThrow();
    expect(await text(`${url0}/`)).toContain("bonjour");
    await eventually("echo to be reported degraded", () =>
      Promise.resolve(app!.resource("echo").health === "Unhealthy" ? true : undefined),
    );
    expect(app!.resource("echo").healthDetail).toContain("1/2 replicas healthy");
    expect(app!.getEndpoint("echo")).toBe(url0);

    await app!.startResource("echo-1");
    const after = app!.resource("echo").replicas?.[1];
    expect(after?.state).toBe("Running");
    expect(after?.health).toBe("Healthy");
    expect(after?.endpoints.http).toBe(url1);
    expect(after?.container?.id).not.toBe(before[1]?.container?.id);
    expect(await text(`${url1}/`)).toContain("bonjour");
    await app!.waitForHealthy("echo");
  });

  it("stops and starts the whole resource: every replica comes back on its own port", async () => {
    const ports = (app!.resource("echo").replicas ?? []).map((r) => r.endpoints.http);
    await app!.stopResource("echo");
    expect(app!.resource("echo").state).toBe("Exited");
    expect(app!.resource("echo").replicas?.map((r) => r.state)).toEqual(["Exited", "Exited"]);
    await app!.startResource("echo");
    expect(app!.resource("echo").state).toBe("Running");
    expect(app!.resource("echo").health).toBe("Healthy");
    expect((app!.resource("echo").replicas ?? []).map((r) => r.endpoints.http)).toEqual(ports);
  });

  it("does not build an unchanged context again; a changed file or build argument names a new image", async () => {
    const { echo } = model(context);
    const logged: string[] = [];
    const started = performance.now();
    const again = await ensureBuiltImage(echo, {
      rootDir: repositoryRoot,
      appName,
      log: (l) => logged.push(l),
    });
    const ms = performance.now() - started;
    console.log(`unchanged context: image found, not rebuilt, in ${ms.toFixed(0)} ms`);
    expect(again.built).toBe(false);
    expect(again.image).toBe(app!.resource("echo").replicas?.[0]?.container?.image);
    expect(logged.join("\n")).toContain("not rebuilt");

    const { hash } = await hashBuildInputs(context, "Dockerfile", { GREETING: "bonjour" });
    expect(builtImageName(appName, "echo", hash)).toBe(again.image);
    // Timestamps are not inputs; contents and build arguments are.
    const now = new Date();
    await fs.utimes(path.join(context, "server.pl"), now, now);
    expect((await hashBuildInputs(context, "Dockerfile", { GREETING: "bonjour" })).hash).toBe(hash);
    expect((await hashBuildInputs(context, "Dockerfile", { GREETING: "salut" })).hash).not.toBe(hash);
    await fs.appendFile(path.join(context, "server.pl"), "# changed\n");
    expect((await hashBuildInputs(context, "Dockerfile", { GREETING: "bonjour" })).hash).not.toBe(hash);
  });
});

describe("a Dockerfile that does not build", () => {
  it("fails the start (FailedToStart) with the build's error and its last lines", async () => {
    const broken = path.join(workDir, "broken");
    await fs.mkdir(broken);
    await fs.writeFile(
      path.join(broken, "Dockerfile"),
      "FROM outbox-apphost/debian:bookworm\nRUN echo 'about to fail' && exit 7\n",
    );
    const model = createApp({ name: appName });
    model.addDockerfile("broken", broken).withHttpEndpoint(8080);
    const failure = await startTestApp({ model, mode: "container" }).then(
      async (started) => {
        await stopTestApp(started);
        throw new Error("the broken Dockerfile started");
      },
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(ApplicationStartError);
    const start = failure as ApplicationStartError;
    expect(start.resources.find((r) => r.name === "broken")?.state).toBe("FailedToStart");
    const [only] = start.failures;
    expect(only?.resource).toBe("broken");
    expect(only?.reason).toMatch(
      new RegExp(`building ${appName}/broken:[0-9a-f]{16} failed: .*exit 7.*returned a non-zero code: 7`),
    );
    expect(only?.reason).toContain("about to fail");
  });

  it("is refused in process mode, naming container mode", async () => {
    const model = createApp({ name: appName });
    model.addDockerfile("web", path.join(workDir, "echo"));
    const failure = (await startTestApp({ model, mode: "process" }).catch((e: unknown) => e)) as Error;
    expect(failure).toBeInstanceOf(ApplicationStartError);
    expect(failure.message).toMatch(/"web" is a container .*runs in container mode only/);
  });
});
