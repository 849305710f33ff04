import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp, type DistributedApplication } from "@outbox/apphost";
import { repositoryRoot, startTestApp, stopTestApp } from "@outbox/apphost/testing";
import { LOCAL_IMAGES } from "../apphost/src/providers/container/images.js";
import { inspectContainer } from "./support/containers.js";

// addContainer and addExecutable from a model, on a real engine: the container is the Debian base
// image `npm run images` builds, running the host's node binary (bind-mounted) with a fixture script.
const fixtures = path.join(repositoryRoot, "test/fixtures/generic");

function model() {
  const app = createApp({ name: "generic-resources" });
  const web = app
    .addContainer("web", LOCAL_IMAGES.base)
    .withBindMount(process.execPath, "/usr/local/bin/node", { readOnly: true })
    .withBindMount(fixtures, "/app", { readOnly: true })
    .withEnvironment("GREETING", "hello from a container")
    .withHttpEndpoint(8080)
    .withVolume("data", "/data")
    .withArgs("node", "/app/web-server.js")
    .withHttpHealthCheck("/health");
  const motto = app.addParameter("motto", { default: "kept simple" });
  app
    .addContainer("logger", LOCAL_IMAGES.base)
    .withReference(motto)
    .withArgs("bash", "-c", 'echo "logger is ready, motto=$Parameters__motto"; exec sleep infinity')
    .withLogReadiness(/logger is ready/);
  app
    .addContainer("ports", LOCAL_IMAGES.base)
    .withBindMount(process.execPath, "/usr/local/bin/node", { readOnly: true })
    .withBindMount(fixtures, "/app", { readOnly: true })
    .withEndpoint(8080, "tcp")
    .withArgs("node", "/app/web-server.js")
    .withPortReadiness();
  app
    .addExecutable("probe", process.execPath, [path.join(fixtures, "probe.js")])
    .withReference(web)
    .waitFor(web)
    .withHttpEndpoint()
    .withHttpHealthCheck("/health");
  app
    .addNodeApp("caller", "test/fixtures/plain-express-app", { entry: "caller.js" })
    .withReference(web)
    .waitFor(web)
    .withHttpEndpoint()
    .withHttpHealthCheck("/health");
  return app;
}

let app: DistributedApplication;

beforeAll(async () => {
  app = await startTestApp({ model: model(), mode: "container" });
});

afterAll(async () => {
  await stopTestApp(app);
});

describe("addContainer and addExecutable", () => {
  it("starts every resource, publishing container endpoints on 127.0.0.1 only", async () => {
    for (const name of ["web", "logger", "ports", "probe", "caller"]) {
      expect(app.resource(name).state, name).toBe("Running");
      expect(app.resource(name).health, name).toBe("Healthy");
    }
    const web = app.getEndpoint("web");
    expect(web).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(app.getEndpoint("ports", "tcp")).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    const inspected = await inspectContainer(app.resource("web").container?.id ?? "");
    expect(inspected.bindings.map((b) => b.hostIp)).toEqual(["127.0.0.1"]);
    expect(inspected.volumes).toHaveLength(1);
    expect(inspected.labels["outbox-apphost.resource"]).toBe("web");
    expect(app.logs.recentLines("logger").join("\n")).toContain("logger is ready, motto=kept simple");
  });

  it("passes the environment to the container and the container's URL to the executable that references it", async () => {
    const web = app.getEndpoint("web");
    expect(await (await fetch(`${web}/greeting`)).text()).toBe("hello from a container");
    const probe = (await (await fetch(app.getEndpoint("probe"))).json()) as { web: string; port: string };
    expect(probe.web).toBe(web);
    expect(app.getEndpoint("probe")).toBe(`http://127.0.0.1:${probe.port}`);
    // A node app (a host process, like the executable) gets it the same way, and reaches it.
    const caller = (await (await fetch(app.getEndpoint("caller"))).json()) as { web: string };
    expect(caller.web).toBe(web);
    expect(await (await fetch(`${caller.web}/greeting`)).text()).toBe("hello from a container");
  });

  it("keeps the volume and the host port when the container is killed and started again", async () => {
    const web = app.getEndpoint("web");
    const before = app.resource("web").container?.id;
    expect(await (await fetch(`${web}/data`, { method: "PUT", body: "kept" })).text()).toBe("stored");
    await app.killResource("web");
    expect(app.resource("web").state).toBe("Exited");
    await expect(fetch(`${web}/health`)).rejects.toThrow();
    await app.startResource("web");
    await app.waitForHealthy("web");
    expect(app.getEndpoint("web")).toBe(web);
    expect(app.resource("web").container?.id).not.toBe(before);
    expect(await (await fetch(`${web}/data`)).text()).toBe("kept");
  });
});

describe("a container in process mode", () => {
  it("fails to start with a message that says it needs container mode", async () => {
    const only = createApp({ name: "generic-process" });
    only.addContainer("web", LOCAL_IMAGES.base);
    await expect(startTestApp({ model: only, mode: "process" })).rejects.toThrow(
      /"web" is a container .* runs in container mode only/,
    );
  });
});
