import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createApp } from "../model/app-builder.js";
import { Resource } from "../model/resource.js";
import { DistributedApplication } from "../runtime/distributed-application.js";
import type { ExitInfo } from "../runtime/managed-process.js";
import type { StartedResource } from "../runtime/provider.js";
import { defineResourceKind, type ResourceKindModule } from "./resource-kind.js";

// How the runtime uses a kind module's hooks, with kinds whose "resources" are promises, not
// processes: what each hook is given and what the runtime does with its answer.

/** A started resource that exits when told to (a kill, a stop, or `exit()` from the test). */
function fakeStarted(extra: Partial<StartedResource> = {}): StartedResource & { exit(): void } {
  let exit!: (info: ExitInfo) => void;
  const exited = new Promise<ExitInfo>((resolve) => (exit = resolve));
  return {
    pid: undefined,
    endpoints: {},
    connection: undefined,
    exited,
    checkHealth: () => Promise.resolve({ healthy: true }),
    stop: () => Promise.resolve(exit({ code: 0, signal: null })),
    kill: () => Promise.resolve(exit({ code: null, signal: "SIGKILL" })),
    exit: () => exit({ code: 1, signal: null }),
    ...extra,
  };
}

class FakeResource extends Resource {
  constructor(name: string, kind: ResourceKindModule<FakeResource>) {
    super(name, kind);
  }
}

const dirs: string[] = [];
const apps: DistributedApplication[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.stop();
  for (const dir of dirs.splice(0)) await fs.rm(dir, { recursive: true, force: true });
});

async function run(build: (model: ReturnType<typeof createApp>) => void): Promise<DistributedApplication> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "apphost-kind-hooks-"));
  dirs.push(dir);
  const model = createApp({ name: "kind-hooks" });
  build(model);
  const app = new DistributedApplication(model, { rootDir: dir, stateDir: path.join(dir, "state") });
  apps.push(app);
  return app;
}

describe("a kind module's hooks, as the runtime calls them", () => {
  it("logs each warning before anything starts, and runs beforeStart before the provider", async () => {
    const calls: string[] = [];
    const kind = defineResourceKind<FakeResource>({
      name: "fake",
      processProvider: () => ({
        start: (resource) => {
          calls.push(`start ${resource.name}`);
          return Promise.resolve(fakeStarted());
        },
      }),
      warnings: (resource) => [`${resource.name} looks odd`],
      beforeStart: (resource, context) => {
        calls.push(`beforeStart ${resource.name} in ${path.basename(context.dataDir)}`);
        return Promise.resolve();
      },
    });
    const app = await run((model) => model.addResource(new FakeResource("one", kind)));
    await app.start();
    expect(app.logs.recentLines("apphost").join("\n")).toContain("warning: one looks odd");
    expect(calls).toEqual(["beforeStart one in one", "start one"]);
    expect(app.resource("one")).toMatchObject({ kind: "fake", state: "Running", health: "Healthy" });
  });

  it("fails the start with beforeStart's error, without starting the resource", async () => {
    let started = false;
    const kind = defineResourceKind<FakeResource>({
      name: "fake",
      processProvider: () => ({
        start: () => ((started = true), Promise.resolve(fakeStarted())),
      }),
      beforeStart: () => Promise.reject(new Error("migrations failed")),
    });
    const app = await run((model) => model.addResource(new FakeResource("one", kind)));
    await expect(app.start()).rejects.toThrow(/one: migrations failed/);
    expect(started).toBe(false);
    expect(app.resource("one").state).toBe("FailedToStart");
  });

  it("marks a running dependent unhealthy with dependencyExited's reason when its dependency exits", async () => {
    const server = fakeStarted();
    const serverKind = defineResourceKind<FakeResource>({
      name: "fake-server",
      processProvider: () => ({ start: () => Promise.resolve(server) }),
    });
    const seen: string[] = [];
    const childKind = defineResourceKind<FakeResource>({
      name: "fake-child",
      processProvider: () => ({ start: () => Promise.resolve(fakeStarted()) }),
      dependencyExited: (resource, dependency) => {
        seen.push(`${resource.name} lost ${dependency.name}`);
        return "server not running";
      },
    });
    const app = await run((model) => {
      const parent = model.addResource(new FakeResource("server", serverKind));
      model.addResource(new FakeResource("child", childKind)).waitsFor.add(parent);
      // Not a dependent: its hook must not be asked.
      model.addResource(new FakeResource("other", childKind));
    });
    await app.start();
    expect(app.resource("child").health).toBe("Healthy");
    server.exit();
    await server.exited;
    // The exit is reported from the exited promise's callback: one more turn.
    await new Promise((resolve) => setImmediate(resolve));
    expect(app.resource("server").state).toBe("Exited");
    expect(app.resource("child")).toMatchObject({
      state: "Running",
      health: "Unhealthy",
      healthDetail: "server not running",
    });
    expect(seen).toEqual(["child lost server"]);
  });

  it("masks the kind's secrets and adds its snapshot fields", async () => {
    const kind = defineResourceKind<FakeResource>({
      name: "fake",
      processProvider: () => ({ start: () => Promise.resolve(fakeStarted({ value: "hunter2-secret" })) }),
      secrets: (_resource, started) => (started?.value === undefined ? [] : [started.value]),
      snapshotFields: () => ({ parameter: { secret: true } }),
    });
    const app = await run((model) => model.addResource(new FakeResource("one", kind)));
    expect(app.secretValues()).not.toContain("hunter2-secret");
    await app.start();
    expect(app.secretValues()).toContain("hunter2-secret");
    expect(app.resource("one").parameter).toEqual({ secret: true });
  });
});
