import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createApp } from "../model/app-builder.js";
import { DistributedApplication } from "../runtime/distributed-application.js";
import { DashboardServer } from "./dashboard-server.js";

// The CLI seeds the dashboard's console with the previous run's log lines before the application
// starts: a file an earlier version wrote may hold a generated credential, which must not show.

const GENERATED = "Gen3ratedDbPassw0rd42";
let stateDir: string;
let dashboard: DashboardServer | undefined;

beforeEach(async () => {
  stateDir = await fs.mkdtemp(path.join(os.tmpdir(), "console-seed-"));
});

afterEach(async () => {
  await dashboard?.close();
  await fs.rm(stateDir, { recursive: true, force: true });
});

describe("the dashboard console's seed from the previous run", () => {
  it("masks the credentials stored in settings.json, before the application has started", async () => {
    await fs.writeFile(
      path.join(stateDir, "settings.json"),
      JSON.stringify({ pg: { secrets: { password: GENERATED } } }),
    );
    await fs.mkdir(path.join(stateDir, "logs"));
    await fs.writeFile(
      path.join(stateDir, "logs", "level.log"),
      `2026-12-07T10:00:00.000Z stdout connection string postgresql://postgres:${GENERATED}@127.0.0.1:5432/postgres\n`,
    );
    const model = createApp({ name: "seed" });
    model.addParameter("level", { default: "info" });
    const app = new DistributedApplication(model, { rootDir: stateDir, stateDir });
    dashboard = new DashboardServer({
      port: 0,
      secrets: { loginToken: "t".repeat(48), otlpApiKey: "k".repeat(48), toolToken: "b".repeat(48) },
    });
    await dashboard.listen();
    dashboard.attach(app);
    await dashboard.seedConsole();
    const texts = dashboard.console.query({ resource: "level" }).map((l) => l.text);
    expect(texts).toEqual(["connection string postgresql://postgres:***@127.0.0.1:5432/postgres"]);
    await app.logs.close();
  });
});
