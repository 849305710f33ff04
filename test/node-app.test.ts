import { readFileSync } from "node:fs";
import fs from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp, type DistributedApplication, type ReplicaSnapshot } from "@outbox/apphost";
import { startTestApp, stopTestApp } from "@outbox/apphost/testing";

// addNodeApp end to end: a plain Express app (its own package.json, no service-defaults, no tsx)
// with real PostgreSQL, two replicas, a second app and an executable that find it through service
// discovery, and an npm script.
function model() {
  const app = createApp({ name: "plain-node-app" });
  const db = app.addPostgres("pg").addDatabase("appdb");
  const web = app
    .addNodeApp("web", "test/fixtures/plain-express-app")
    .withReference(db)
    .waitFor(db)
    .withHttpEndpoint()
    .withHttpHealthCheck("/health")
    .withReplicas(2);
  app
    .addNodeApp("caller", "test/fixtures/plain-express-app", { entry: "caller.js" })
    .withReference(web)
    .waitFor(web)
    .withHttpEndpoint()
    .withHttpHealthCheck("/health");
  app
    .addExecutable("probe", process.execPath, ["test/fixtures/generic/probe.js"])
    .withReference(web)
    .waitFor(web)
    .withHttpEndpoint()
    .withHttpHealthCheck("/health");
  app
    .addNpmScript("scripted", "test/fixtures/plain-express-app", "start")
    .withReference(db)
    .waitFor(db)
    .withHttpEndpoint()
    .withHttpHealthCheck("/health");
  return app;
}

interface WebAnswer {
  one: number;
  port: string;
  pid: number;
  execArgv: string[];
  adminToken: string | null;
}

let app: DistributedApplication | undefined;

beforeAll(async () => {
  app = await startTestApp({ model: model() });
});

afterAll(async () => {
  await stopTestApp(app);
});

function running(): DistributedApplication {
  if (!app) throw new Error("the application did not start");
  return app;
}

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url);
  expect(response.status, url).toBe(200);
  return (await response.json()) as T;
}

describe("addNodeApp with a plain Express app", () => {
  it("is listed like any resource, Running and Healthy, in the snapshot and state.json", async () => {
    const snapshot = running().snapshot();
    const web = snapshot.find((r) => r.name === "web");
    expect(web).toMatchObject({ kind: "node-app", state: "Running", health: "Healthy" });
    expect(snapshot.find((r) => r.name === "caller")).toMatchObject({ kind: "node-app", health: "Healthy" });
    const state = JSON.parse(await fs.readFile(running().stateFile, "utf8")) as {
      resources: Array<{ name: string; kind: string; state: string; replicas?: ReplicaSnapshot[] }>;
    };
    const listed = state.resources.find((r) => r.name === "web");
    expect(listed).toMatchObject({ kind: "node-app", state: "Running" });
    expect(listed?.replicas?.map((r) => r.name)).toEqual(["web-0", "web-1"]);
  });

  it("answers on each replica's own port through its injected connection string, with plain node", async () => {
    const replicas =
      running()
        .snapshot()
        .find((r) => r.name === "web")?.replicas ?? [];
    expect(replicas.map((r) => r.health)).toEqual(["Healthy", "Healthy"]);
    const urls = replicas.map((r) => r.endpoints.http ?? "");
    expect(new Set(urls).size).toBe(2);
    for (const [index, url] of urls.entries()) {
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const answer = await getJson<WebAnswer>(url);
      expect(answer.one).toBe(1);
      expect(`http://127.0.0.1:${answer.port}`).toBe(url);
      expect(answer.pid).toBe(replicas[index]?.pid);
      // No loader, no telemetry hooks, no admin token: nothing the app did not ask for.
      expect(answer.execArgv).toEqual([]);
      expect(answer.adminToken).toBeNull();
    }
  });

  it("gives a referencing app the endpoint under services__web__http__0", async () => {
    const answer = await getJson<{ web: string | null }>(running().getEndpoint("caller"));
    expect(answer.web).toBe(running().getEndpoint("web"));
    expect(await getJson<WebAnswer>(answer.web ?? "")).toMatchObject({ one: 1 });
  });

  it("starts an executable through the same launcher, with the app's endpoint injected", async () => {
    expect(running().resource("probe")).toMatchObject({ kind: "executable", health: "Healthy" });
    const answer = await getJson<{ web: string | null; port: string }>(running().getEndpoint("probe"));
    expect(answer.web).toBe(running().getEndpoint("web"));
    expect(running().getEndpoint("probe")).toBe(`http://127.0.0.1:${answer.port}`);
  });

  it("runs an npm script: npm in front, the app it starts answering on the injected port", async () => {
    const scripted = running().resource("scripted");
    expect(scripted).toMatchObject({ kind: "node-app", state: "Running", health: "Healthy" });
    const answer = await getJson<WebAnswer>(running().getEndpoint("scripted"));
    expect(answer.one).toBe(1);
    // The server is npm's child, not the process the AppHost started.
    expect(answer.pid).not.toBe(scripted.pid);
  });

  it("stops every process of the apps, the npm script's child included", async () => {
    const snapshot = running().snapshot();
    const pids = (snapshot.find((r) => r.name === "web")?.replicas ?? []).map((r) => r.pid);
    for (const name of ["caller", "scripted", "probe"])
      pids.push(snapshot.find((r) => r.name === name)?.pid ?? null);
    pids.push((await getJson<WebAnswer>(running().getEndpoint("scripted"))).pid);
    expect(pids).toHaveLength(6);
    expect(pids.every((pid) => typeof pid === "number" && isAlive(pid))).toBe(true);
    const stopping = app;
    app = undefined;
    await stopTestApp(stopping);
    expect(pids.filter((pid) => isAlive(pid as number))).toEqual([]);
  });
});

/**
 * Whether the process still runs. A zombie does not: npm's child, killed with its group, is
 * reparented to PID 1, which reaps it in its own time (in some containers, never).
 */
function isAlive(pid: number): boolean {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
  return !/^State:\s+Z/m.test(status);
}
