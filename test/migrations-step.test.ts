import fs from "node:fs/promises";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApplicationStartError, createApp, type DistributedApplication } from "@outbox/apphost";
import { repositoryRoot, startTestApp, stopTestApp } from "@outbox/apphost/testing";
import { buildApp } from "../apphost.js";
import type { NodeServiceResource } from "../apphost/src/model/node-service.js";

// The database owner's credentials live only in a one-shot migrations step (withMigrations): the
// long-running services and each of their replicas get the runtime role alone, the step runs once
// per service start before the replicas, and a failing step fails the start with its own words.
// docs/security.md.

/** The environment a process was started with, as the kernel keeps it. */
async function environOf(pid: number): Promise<Record<string, string>> {
  const raw = await fs.readFile(`/proc/${pid}/environ`, "utf8");
  return Object.fromEntries(
    raw
      .split("\0")
      .filter((entry) => entry.includes("="))
      .map((entry) => [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)]),
  );
}

/** The parent of each live process (some vanish while we look). */
async function parents(): Promise<Map<number, number>> {
  const pids = (await fs.readdir("/proc")).filter((name) => /^\d+$/.test(name)).map(Number);
  const found = new Map<number, number>();
  await Promise.all(
    pids.map(async (pid) => {
      const stat = await fs.readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
      // "pid (comm) state ppid …": comm may hold spaces and parentheses, so read after the last ")".
      const ppid = stat?.slice(stat.lastIndexOf(")") + 2).split(" ")[1];
      if (ppid !== undefined) found.set(pid, Number(ppid));
    }),
  );
  return found;
}

/** The initial environment of every process this test started (the AppHost runs in it). */
async function descendantEnvirons(): Promise<Array<{ pid: number; raw: string }>> {
  const parentOf = await parents();
  const ours = (pid: number): boolean => {
    for (let at = parentOf.get(pid); at !== undefined && at > 1; at = parentOf.get(at))
      if (at === process.pid) return true;
    return false;
  };
  const found = await Promise.all(
    [...parentOf.keys()].filter(ours).map(async (pid) => {
      const raw = await fs.readFile(`/proc/${pid}/environ`, "utf8").catch(() => undefined);
      return raw === undefined ? undefined : { pid, raw };
    }),
  );
  return found.filter((entry) => entry !== undefined);
}

async function shippedMigrations(service: string): Promise<number> {
  const journal = JSON.parse(
    await fs.readFile(path.join(repositoryRoot, service, "drizzle/meta/_journal.json"), "utf8"),
  ) as { entries: unknown[] };
  return journal.entries.length;
}

async function appliedMigrations(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>(
      'SELECT count(*)::text AS n FROM "drizzle"."__drizzle_migrations"',
    );
    return Number(rows[0]?.n);
  } finally {
    await client.end();
  }
}

describe("the whole application, sender with two replicas", () => {
  let app: DistributedApplication;
  beforeAll(async () => {
    const model = buildApp();
    (model.resource("sender") as NodeServiceResource).withReplicas(2);
    app = await startTestApp({ model });
  });
  afterAll(async () => {
    await stopTestApp(app);
  });

  it("no service process holds a _MIGRATIONS_URI or an owner's password", async () => {
    const owners = ["senderdb", "receiverdb"].map((db) => {
      const owner = new URL(app.getMigrationsConnectionString(db));
      return { db, user: decodeURIComponent(owner.username), password: decodeURIComponent(owner.password) };
    });
    expect(owners.map((o) => o.user)).toEqual(["senderdb_owner", "receiverdb_owner"]);
    const services = app.snapshot().filter((r) => r.kind === "node-service");
    const pids = services.flatMap((r) => (r.replicas ?? [r]).map((p) => ({ name: p.name, pid: p.pid })));
    expect(pids.map((p) => p.name)).toEqual(["sender-0", "sender-1", "receiver"]);
    for (const { name, pid } of pids) {
      expect(pid, `${name} runs`).toBeTypeOf("number");
      const env = await environOf(pid as number);
      // Precondition: this is the service's own environment, with its runtime role.
      const db = name.startsWith("sender") ? "senderdb" : "receiverdb";
      expect(new URL(env[`ConnectionStrings__${db}`] ?? "").username, name).toBe(`${db}_app`);
      expect(
        Object.keys(env).filter((key) => key.endsWith("_MIGRATIONS_URI")),
        name,
      ).toEqual([]);
      for (const owner of owners)
        expect(
          Object.entries(env).filter(([, value]) => value.includes(owner.password)),
          `${name} holds ${owner.user}'s password`,
        ).toEqual([]);
    }
    // Nor does any other process the AppHost started (PostgreSQL, Artemis): the step is gone.
    const started = await descendantEnvirons();
    expect(started.length).toBeGreaterThanOrEqual(pids.length);
    for (const { pid, raw } of started)
      for (const owner of owners) expect(raw.includes(owner.password), `pid ${pid}`).toBe(false);
  });

  it("the step migrated each schema, once per service start, before the replicas checked it", async () => {
    for (const [service, folder, db] of [
      ["sender", "sender-service", "senderdb"],
      ["receiver", "receiver-service", "receiverdb"],
    ] as const) {
      // Read with the runtime role: the journal is readable to it, its DDL rights are not.
      expect(await appliedMigrations(app.getConnectionString(db))).toBe(await shippedMigrations(folder));
      const log = (await fs.readFile(app.logs.fileOf(service), "utf8")).split("\n");
      expect(log.filter((line) => line.includes(`${service} database migrations applied`))).toHaveLength(1);
      expect(log.filter((line) => line.includes("[apphost] migrations applied"))).toHaveLength(1);
    }
    for (const instance of ["sender-0", "sender-1", "receiver"]) {
      const log = await fs.readFile(app.logs.fileOf(instance), "utf8");
      expect(log, instance).toContain("database schema is migrated");
      expect(log, instance).not.toContain("MIGRATE_AT_START");
    }
  });
});

describe("a start without the step", () => {
  it("fails when the migrations step fails, with the step's own message, and never starts the service", async () => {
    const model = createApp({ name: "failing-migrations" });
    const db = model.addPostgres("fail-pg").addDatabase("faildb");
    model
      .addNodeService("broken", "test/fixtures/failing-migrations")
      .withMigrations("src/migrate-main.ts")
      .withReference(db)
      .waitFor(db);
    const error = await startTestApp({ model }).then(
      (app) => stopTestApp(app).then(() => undefined),
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ApplicationStartError);
    const failure = error as ApplicationStartError;
    expect(failure.failures.map((f) => f.resource)).toEqual(["broken"]);
    const reason = failure.failures[0]?.reason ?? "";
    expect(reason).toContain("migrations (src/migrate-main.ts) failed (code 1)");
    // Its own words, given the owner's credentials: PostgreSQL's refusal, as faildb's owner.
    expect(reason).toContain("fixture migration 0001 failed: division by zero");
    expect(reason).toContain("migrating as faildb_owner");
    expect(failure.message).not.toContain("service main started");
    expect(failure.resources.find((r) => r.name === "broken")?.pid).toBeNull();
  });

  it("a service whose schema is not migrated refuses to start, naming the step", async () => {
    const model = createApp({ name: "unmigrated" });
    const db = model.addPostgres("receiver-pg").addDatabase("receiverdb");
    model
      .addNodeService("receiver", "receiver-service")
      .withReference(db)
      .waitFor(db)
      // Read before the schema check; never reached (port 1 refuses).
      .withEnvironment("ConnectionStrings__broker", "amqp://u:p@127.0.0.1:1")
      .withEnvironment("RECEIVER_QUEUE", "entity-items.receiver")
      .withHttpEndpoint()
      .withHttpHealthCheck("/health");
    const error = await startTestApp({ model }).then(
      (app) => stopTestApp(app).then(() => undefined),
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ApplicationStartError);
    const failure = error as ApplicationStartError;
    expect(failure.failures.map((f) => f.resource)).toEqual(["receiver"]);
    expect(failure.failures[0]?.reason).toContain("exited before becoming healthy (code 1)");
    expect(failure.message).toContain("the receiverdb schema is not migrated (no migration has been applied");
    expect(failure.message).toContain("run the migrations step first");
  });
});
