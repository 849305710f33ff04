import fs from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NodeServiceResource, type DistributedApplication, type ReplicaSnapshot } from "@outbox/apphost";
import { buildApp } from "../apphost.js";
import { startTestApp, stopTestApp } from "@outbox/apphost/testing";
import { eventually, getJson } from "./support/receiver.js";
import { postEntities, waitForApplied } from "./support/system.js";

// withReplicas(n) through the runtime and the test harness: n processes, own ports and instance
// ids, listed in state.json, killed and started one at a time.
let app: DistributedApplication;

beforeAll(async () => {
  const model = buildApp();
  (model.resource("sender") as NodeServiceResource).withReplicas(2);
  (model.resource("receiver") as NodeServiceResource).withReplicas(2);
  app = await startTestApp({ model });
});

afterAll(async () => {
  await stopTestApp(app);
});

interface StateFile {
  resources: Array<{ name: string; state: string; health: string; replicas?: ReplicaSnapshot[] }>;
}

async function stateOf(service: string): Promise<StateFile["resources"][number]> {
  // state.json is written asynchronously after each change: read what tools would read.
  const state = JSON.parse(await fs.readFile(app.stateFile, "utf8")) as StateFile;
  const found = state.resources.find((r) => r.name === service);
  if (!found) throw new Error(`state.json has no ${service}`);
  return found;
}

async function instanceIdOf(pid: number): Promise<string | undefined> {
  const environ = await fs.readFile(`/proc/${pid}/environ`, "utf8");
  const attributes = environ.split("\0").find((v) => v.startsWith("OTEL_RESOURCE_ATTRIBUTES="));
  return /service\.instance\.id=([^,]+)/.exec(attributes ?? "")?.[1];
}

describe("a model with replicas", () => {
  it("runs each replica as its own process with its own port and instance id, listed in state.json", async () => {
    for (const service of ["sender", "receiver"]) {
      const entry = await stateOf(service);
      expect(entry.state).toBe("Running");
      const replicas = entry.replicas ?? [];
      expect(replicas.map((r) => r.name)).toEqual([`${service}-0`, `${service}-1`]);
      expect(replicas.every((r) => r.state === "Running" && r.health === "Healthy")).toBe(true);
      const ports = replicas.map((r) => new URL(r.endpoints.http ?? "").port);
      expect(new Set(ports).size).toBe(2);
      const pids = replicas.map((r) => r.pid ?? 0);
      expect(new Set(pids).size).toBe(2);
      expect(await Promise.all(pids.map(instanceIdOf))).toEqual([`${service}-0`, `${service}-1`]);
      for (const r of replicas) {
        const { status } = await getJson(`${r.endpoints.http}/alive`);
        expect(status).toBe(200);
      }
    }
  });

  it("kills one replica (SIGKILL): the service is degraded, the other replica keeps serving, and it starts again on its port", async () => {
    const before = app.resource("sender").replicas?.[1];
    expect(before?.state).toBe("Running");
    const port = new URL(app.getEndpoint("sender-1")).port;
    const pid = before?.pid ?? 0;

    await app.killResource("sender-1");
    expect(() => process.kill(pid, 0)).toThrow();
    const after = await eventually("state.json to show sender-1 exited and sender unhealthy", async () => {
      const entry = await stateOf("sender");
      const replica = entry.replicas?.[1];
      return replica?.state === "Exited" && entry.health === "Unhealthy" ? entry : undefined;
    });
    expect(after.replicas?.[0]?.state).toBe("Running");

    // The service still works through its live replica; the killed one's port is closed.
    await expect(fetch(`http://127.0.0.1:${port}/alive`)).rejects.toThrow();
    const created = await postEntities(app.getEndpoint("sender-0"), 20, "replica-kill");
    expect(
      (
        await waitForApplied(
          app,
          created.map((e) => e.id),
        )
      ).size,
    ).toBe(20);

    await app.startResource("sender-1");
    // startResource waited for one passing probe; the monitor's next probe sets the snapshot.
    const restarted = await eventually("sender-1 running and healthy again", () => {
      const replica = app.resource("sender").replicas?.[1];
      return Promise.resolve(
        replica?.state === "Running" && replica.health === "Healthy" ? replica : undefined,
      );
    });
    expect(restarted?.pid).not.toBe(pid);
    expect(new URL(app.getEndpoint("sender-1")).port).toBe(port);
    await app.waitForHealthy("sender");
    // state.json is written after the change it reports.
    await eventually("state.json to show sender healthy again", async () =>
      (await stateOf("sender")).health === "Healthy" ? true : undefined,
    );
  });

  it("stops and restarts a receiver replica gracefully while the other one consumes", async () => {
    await app.stopResource("receiver-0");
    expect(app.resource("receiver").replicas?.[0]?.state).toBe("Exited");
    const created = await postEntities(app.getEndpoint("sender"), 20, "replica-stop");
    expect(
      (
        await waitForApplied(
          app,
          created.map((e) => e.id),
        )
      ).size,
    ).toBe(20);
    await app.restartResource("receiver-0");
    expect(app.resource("receiver").replicas?.[0]?.health).toBe("Healthy");
  });
});
