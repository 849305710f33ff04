import fs from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp, type DistributedApplication } from "@outbox/apphost";
import { startTestApp, stopTestApp } from "@outbox/apphost/testing";
import { waitUntil } from "../apphost/src/runtime/wait.js";

// An executable that prints the database password and URL the AppHost generated and injected:
// its log (file, recent lines) shows them masked, and it runs with the AppHost's basics, not the
// AppHost's whole environment. Process mode (executables are host processes in both modes).

const PARENT_ONLY = "APPHOST_TEST_PARENT_ONLY_SECRET";
let app: DistributedApplication | undefined;

beforeAll(async () => {
  process.env[PARENT_ONLY] = "a-value-only-the-apphost-has";
  const model = createApp({ name: "masking" });
  const db = model.addPostgres("pg").addDatabase("appdb");
  model
    .addExecutable("printer", "sh", [
      "-c",
      `echo "password=$APPDB_PASSWORD uri=$APPDB_URI parent=\${${PARENT_ONLY}:-absent}"; exec sleep 600`,
    ])
    .withReference(db)
    .waitFor(db);
  app = await startTestApp({ model, mode: "process" });
});

afterAll(async () => {
  delete process.env[PARENT_ONLY];
  await stopTestApp(app);
});

describe("generated secrets in a resource's output", () => {
  it("are masked in its log file and recent lines; the executable gets no AppHost-only variable", async () => {
    const running = app as DistributedApplication;
    const logFile = running.logs.fileOf("printer");
    await waitUntil(async () => (await fs.readFile(logFile, "utf8").catch(() => "")).includes("password="), {
      timeoutMs: 30_000,
      intervalMs: 100,
      what: "the executable's line",
    });
    // An executable has no migrations step: its reference carries the database's owner.
    const password = new URL(running.getMigrationsConnectionString("appdb")).password;
    // Precondition: there is a generated password, and the AppHost knows it as a secret.
    expect(password.length).toBeGreaterThan(8);
    expect(running.secretValues()).toContain(password);
    const file = await fs.readFile(logFile, "utf8");
    const recent = running.logs.recentLines("printer").join("\n");
    for (const text of [file, recent]) {
      expect(text).toMatch(/password=\*\*\* uri=postgresql:\/\/appdb_owner:\*\*\*@127\.0\.0\.1:\d+\/appdb/);
      expect(text).not.toContain(password);
      expect(text).toContain("parent=absent");
    }
  });
});
