import { describe, expect, it } from "vitest";
import { createApp } from "../model/app-builder.js";
import type { Resource } from "../model/resource.js";
import type { ExitInfo } from "./managed-process.js";
import type { ResourceProvider, StartContext, StartedResource } from "./provider.js";
import { InstanceSet, assertReplicaNamesFree, instanceNames } from "./replica-set.js";

// The one lifecycle of single resources and replicas, against a fake provider (no processes).

interface FakeInstance extends StartedResource {
  crash(code: number): void;
  healthy: boolean;
}

function fakeProvider(): { provider: ResourceProvider; started: Map<string, FakeInstance> } {
  const started = new Map<string, FakeInstance>();
  const provider: ResourceProvider = {
    start(resource: Resource, context: StartContext): Promise<StartedResource> {
      const name = context.replica?.name ?? resource.name;
      let end!: (info: ExitInfo) => void;
      const exited = new Promise<ExitInfo>((resolve) => (end = resolve));
      const instance: FakeInstance = {
        pid: undefined,
        endpoints: { http: `http://127.0.0.1/${name}` },
        connection: undefined,
        exited,
        healthy: true,
        checkHealth: () =>
          Promise.resolve(instance.healthy ? { healthy: true } : { healthy: false, detail: "no" }),
        stop: () => Promise.resolve(end({ code: 0, signal: "SIGTERM" })),
        kill: () => Promise.resolve(end({ code: null, signal: "SIGKILL" })),
        crash: (code) => end({ code, signal: null }),
      };
      started.set(name, instance);
      return Promise.resolve(instance);
    },
  };
  return { provider, started };
}

function context(): StartContext {
  return {
    rootDir: "/",
    dataDir: "/",
    settings: undefined as never,
    logs: { register: () => {} } as never,
    log: () => {},
    lookup: () => {
      throw new Error("no lookups here");
    },
    extraEnvironment: { OTEL_RESOURCE_ATTRIBUTES: "service.instance.id=x" },
    signal: new AbortController().signal,
  };
}

function newSet(resource: Resource) {
  const downs: Array<number | null> = [];
  const lines: string[] = [];
  const set = new InstanceSet(resource, {
    onChange: () => {},
    onDown: (code) => downs.push(code),
    log: (instance, message) => lines.push(`${instance}: ${message}`),
  });
  return { set, downs, lines };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("InstanceSet", () => {
  it("runs a single resource as one instance under its own name, down when it exits", async () => {
    const web = createApp().addContainer("web", "nginx");
    const { set, downs, lines } = newSet(web);
    const { provider, started } = fakeProvider();
    expect(instanceNames(web)).toEqual(["web"]);
    await set.start(provider, context());
    expect([...started.keys()]).toEqual(["web"]);
    expect(set.endpoints).toEqual({ http: "http://127.0.0.1/web" });
    expect(await set.checkHealth()).toEqual({ healthy: true });
    started.get("web")?.crash(3);
    await tick();
    expect(downs).toEqual([3]);
    expect(lines).toContain("web: exited unexpectedly (code 3)");
    expect(await set.checkHealth()).toEqual({ healthy: false, detail: "Exited" });
  });

  it("runs replicas as instances of their own: one down degrades the resource, all down is the resource down", async () => {
    const web = createApp().addContainer("web", "nginx").withReplicas(2);
    const { set, downs } = newSet(web);
    const { provider, started } = fakeProvider();
    await set.start(provider, context());
    expect([...started.keys()]).toEqual(["web-0", "web-1"]);
    expect(set.snapshot().map((r) => [r.name, r.state])).toEqual([
      ["web-0", "Running"],
      ["web-1", "Running"],
    ]);

    await set.kill([0]);
    expect(downs).toEqual([]);
    expect(set.endpoints).toEqual({ http: "http://127.0.0.1/web-1" });
    expect(await set.checkHealth()).toEqual({
      healthy: false,
      detail: "1/2 replicas healthy; web-0: Exited",
    });

    await set.startInstances([0]);
    await set.checkHealth();
    expect(set.areHealthy([0, 1])).toBe(true);

    started.get("web-1")!.healthy = false;
    await set.checkHealth();
    expect(set.areHealthy([0])).toBe(true);
    expect(set.areHealthy([1])).toBe(false);

    await set.stop();
    expect(downs).toEqual([null]);
    expect(set.areUp([0])).toBe(false);
  });

  it("stops the instances it started when one of them fails to start", async () => {
    const web = createApp().addContainer("web", "nginx").withReplicas(2);
    const { set } = newSet(web);
    const { provider, started } = fakeProvider();
    const failing: ResourceProvider = {
      start: (resource, ctx) =>
        ctx.replica?.index === 1 ? Promise.reject(new Error("no image")) : provider.start(resource, ctx),
    };
    await expect(set.start(failing, context())).rejects.toThrow("no image");
    expect(set.snapshot().map((r) => r.state)).toEqual(["Exited", "FailedToStart"]);
    expect(set.launched).toBe(false);
    expect(started.size).toBe(1);
  });
});

describe("assertReplicaNamesFree", () => {
  it("refuses a replica of a container named like another resource", () => {
    const app = createApp();
    app.addContainer("web", "nginx").withReplicas(2);
    app.addContainer("web-1", "nginx");
    expect(() => assertReplicaNamesFree(app.resources())).toThrow(/Replica name "web-1" of "web"/);
  });
});
