import { execFileSync } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp, DistributedApplication } from "@outbox/apphost";
import { repositoryRoot, startTestApp, stopTestApp } from "@outbox/apphost/testing";
import { removeVolumes } from "../apphost/src/providers/container/docker-objects.js";
import { BrokerManagement } from "../messaging/src/transports/artemis/management.js";
import { connectToBroker } from "./support/receiver.js";
import { postEntity } from "./support/system.js";

// Least privilege for PostgreSQL: the services connect with a role that can only read and write
// the rows of their tables; migrations run as the database owner. Checked on the whole app in
// process mode and on a PostgreSQL container (same roles, made by the same SQL).

async function refusal(url: string, sql: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
    return undefined;
  } catch (error) {
    return `${(error as { code?: string }).code} ${(error as Error).message}`;
  } finally {
    await client.end();
  }
}

function userOf(url: string): string {
  return decodeURIComponent(new URL(url).username);
}

async function expectLeastPrivilege(runtimeUrl: string, ownerUrl: string, table: string): Promise<void> {
  expect(userOf(runtimeUrl)).toMatch(/_app$/);
  expect(userOf(ownerUrl)).toMatch(/_owner$/);
  // Precondition: the runtime role reads and writes its table.
  expect(await refusal(runtimeUrl, `SELECT count(*) FROM ${table}`)).toBeUndefined();
  // What it must not do: 42501 = insufficient privilege.
  expect(await refusal(runtimeUrl, `DROP TABLE ${table}`)).toMatch(/^42501 must be owner/);
  expect(await refusal(runtimeUrl, "COPY (SELECT 1) TO PROGRAM 'id'")).toMatch(/^42501 /);
  expect(await refusal(runtimeUrl, `TRUNCATE ${table}`)).toMatch(/^42501 /);
  expect(await refusal(runtimeUrl, `ALTER TABLE ${table} ADD COLUMN x int`)).toMatch(/^42501 must be owner/);
  expect(await refusal(runtimeUrl, "CREATE TABLE intruder (id int)")).toMatch(/^42501 /);
  expect(await refusal(runtimeUrl, "CREATE ROLE intruder")).toMatch(/^42501 /);
  // The owner runs migrations, but is no superuser either.
  expect(await refusal(ownerUrl, "COPY (SELECT 1) TO PROGRAM 'id'")).toMatch(/^42501 /);
  expect(await refusal(ownerUrl, "SELECT pg_read_file('/etc/passwd')")).toMatch(/^42501 /);
}

describe("PostgreSQL roles, process mode (the whole application)", () => {
  let app: DistributedApplication;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await stopTestApp(app);
  });

  it("injects the runtime role as ConnectionStrings__<db>; the owner is the migrations step's alone", () => {
    for (const [service, db] of [
      ["sender", "senderdb"],
      ["receiver", "receiverdb"],
    ] as const) {
      const env = app.environmentOf(service) ?? {};
      expect(userOf(env[`ConnectionStrings__${db}`] ?? "")).toBe(`${db}_app`);
      expect(env[`${db.toUpperCase()}_USERNAME`]).toBe(`${db}_app`);
      // test/migrations-step.test.ts proves the same on the running processes.
      expect(env[`${db.toUpperCase()}_MIGRATIONS_URI`]).toBeUndefined();
      expect(userOf(app.getMigrationsConnectionString(db))).toBe(`${db}_owner`);
      expect(Object.values(env).some((v) => v.includes("//postgres:"))).toBe(false);
    }
  });

  it("the services work with it, and it cannot DROP TABLE nor COPY … PROGRAM", async () => {
    expect((await postEntity(app.getEndpoint("sender"), { name: "least privilege" })).status).toBe(201);
    const sender = app.environmentOf("sender") ?? {};
    await expectLeastPrivilege(
      sender.ConnectionStrings__senderdb ?? "",
      app.getMigrationsConnectionString("senderdb"),
      "outbox_messages",
    );
    const receiver = app.environmentOf("receiver") ?? {};
    await expectLeastPrivilege(
      receiver.ConnectionStrings__receiverdb ?? "",
      app.getMigrationsConnectionString("receiverdb"),
      "inbox",
    );
  });
});

describe("broker disk bounds", () => {
  it("are applied by the broker (keys that fail to apply show only in broker.getStatus)", async () => {
    const app = await startTestApp({ model: brokerOnly() });
    const connection = await connectToBroker(app);
    const management = new BrokerManagement(connection);
    try {
      const status = JSON.parse(String(await management.call("broker", "getStatus"))) as {
        configuration?: { properties?: Record<string, { errors?: unknown[] }> };
      };
      const files = status.configuration?.properties ?? {};
      // Precondition: the broker read our broker.properties at all.
      expect(Object.keys(files).some((name) => name.endsWith("broker.properties"))).toBe(true);
      expect(Object.values(files).flatMap((p) => p.errors ?? [])).toEqual([]);
    } finally {
      management.close();
      connection.close();
      await stopTestApp(app);
    }
  });
});

function brokerOnly() {
  const model = createApp({ name: "broker-bounds" });
  model.addArtemis("broker").addQueue("entity-items");
  return model;
}

function containerImagesPresent(): boolean {
  try {
    execFileSync("docker", ["image", "inspect", "outbox-apphost/postgres:15"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

describe.runIf(containerImagesPresent())("PostgreSQL roles, container mode", () => {
  let app: DistributedApplication | undefined;
  let stateDir: string;
  beforeAll(async () => {
    stateDir = await fs.mkdtemp(path.join(os.tmpdir(), "least-privilege-container-"));
    // No registry here: the locally built look-alike image (npm run images).
    process.env.APPHOST_IMAGE_POSTGRES ??= "outbox-apphost/postgres:15";
    const model = createApp({ name: "least-privilege" });
    model.addPostgres("pg").addDatabase("appdb");
    app = new DistributedApplication(model, { rootDir: repositoryRoot, stateDir, mode: "container" });
    await app.start();
  });
  afterAll(async () => {
    await app?.stop();
    await removeVolumes(stateDir).catch(() => []);
    await fs.rm(stateDir, { recursive: true, force: true });
  });

  it("gets the same two roles", async () => {
    const runtimeUrl = app?.getConnectionString("appdb") ?? "";
    const database = app?.snapshot().find((r) => r.name === "appdb");
    expect(database?.connectionString).toBe(runtimeUrl);
    const ownerUrl = runtimeUrl.replace(/\/\/appdb_app:[^@]*@/, "//");
    // The owner's URL is what a migrations step would get as APPDB_MIGRATIONS_URI: read it from the settings.
    const settings = JSON.parse(await fs.readFile(path.join(stateDir, "settings.json"), "utf8")) as {
      appdb: { secrets: Record<string, string> };
    };
    const owner = ownerUrl.replace("//", `//appdb_owner:${settings.appdb.secrets["owner-password"]}@`);
    // A table made by the owner, as a migration would.
    const client = new pg.Client({ connectionString: owner });
    await client.connect();
    await client.query("CREATE TABLE IF NOT EXISTS items (id int primary key)");
    await client.end();
    await expectLeastPrivilege(runtimeUrl, owner, "items");
  });
});
