import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp, type DistributedApplication } from "@outbox/apphost";
import { startTestApp, stopTestApp } from "@outbox/apphost/testing";

// The one lifecycle of single resources and replicas (runtime/replica-set.ts) through the runtime,
// with plain Node processes only: a single resource and a replicated one, killed, stopped and
// started by resource name and by replica name.
function model() {
  const app = createApp({ name: "replica-lifecycle" });
  app
    .addNodeApp("single", "test/fixtures/replica-lifecycle", { entry: "server.js" })
    .withHttpEndpoint()
    .withHttpHealthCheck("/");
  app
    .addNodeApp("web", "test/fixtures/replica-lifecycle", { entry: "server.js" })
    .withHttpEndpoint()
    .withHttpHealthCheck("/")
    .withReplicas(2);
  return app;
}

let app: DistributedApplication;

beforeAll(async () => {
  app = await startTestApp({ model: model(), mode: "process" });
});

afterAll(async () => {
  await stopTestApp(app);
});

const states = (name: string) => app.resource(name).replicas?.map((r) => r.state);

describe("one lifecycle for single resources and replicas", () => {
  it("kills and starts a single resource as a set of one: no replica rows, down when its instance is", async () => {
    expect(app.resource("single").replicas).toBeUndefined();
    const pid = app.resource("single").pid;
    expect(pid).toBeGreaterThan(0);
    await app.killResource("single");
    expect(app.resource("single").state).toBe("Exited");
    expect(app.resource("single").pid).toBeNull();
    await app.startResource("single");
    expect(app.resource("single").state).toBe("Running");
    expect(app.resource("single").health).toBe("Healthy");
    expect(app.resource("single").pid).not.toBe(pid);
  });

  it("keeps a replicated resource Running while one replica is up, and Exited once none is", async () => {
    expect(states("web")).toEqual(["Running", "Running"]);
    await app.killResource("web-0");
    expect(app.resource("web").state).toBe("Running");
    expect(states("web")).toEqual(["Exited", "Running"]);
    await app.stopResource("web-1");
    expect(states("web")).toEqual(["Exited", "Exited"]);
    expect(app.resource("web").state).toBe("Exited");
    expect(app.resource("web").pid).toBeNull();
  });

  it("starts the whole resource when a replica of a resource that is down is started", async () => {
    await app.startResource("web-1");
    expect(app.resource("web").state).toBe("Running");
    expect(app.resource("web").health).toBe("Healthy");
    expect(states("web")).toEqual(["Running", "Running"]);
    for (const name of ["web-0", "web-1"])
      expect(await (await fetch(app.getEndpoint(name))).text()).toMatch(/^\d+$/);
  });

  it("starts only the replicas that are down when the running resource is started by its name", async () => {
    const kept = app.resource("web").replicas?.[1]?.pid;
    await app.killResource("web-0");
    await app.startResource("web");
    expect(states("web")).toEqual(["Running", "Running"]);
    expect(app.resource("web").replicas?.[1]?.pid).toBe(kept);
    expect(app.resource("web").health).toBe("Healthy");
  });
});
