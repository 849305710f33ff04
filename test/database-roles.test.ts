import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp, type DistributedApplication } from "@outbox/apphost";
import { startTestApp, stopTestApp } from "@outbox/apphost/testing";

// Which database role each kind of resource gets (apphost/src/runtime/postgres-roles.ts): a plain
// app without a migrations step is its own migrator and connects as the owner; an app that asks for
// `{ role: "runtime" }` and a service with `withMigrations` get rows and nothing more, also in the
// schemas their migrations create.
function model() {
  const app = createApp({ name: "database-roles" });
  const pg = app.addPostgres("roles-pg");
  const notes = pg.addDatabase("notesdb");
  const audit = pg.addDatabase("auditdb");
  const writer = app
    .addNodeApp("writer", "test/fixtures/self-migrating-app")
    .withReference(notes)
    .waitFor(notes)
    .withHttpEndpoint()
    .withHttpHealthCheck("/health");
  app
    .addNodeApp("reader", "test/fixtures/self-migrating-app")
    .withReference(notes, { role: "runtime" })
    .withEnvironment("CREATE_TABLE", "no")
    .waitFor(writer)
    .withHttpEndpoint()
    .withHttpHealthCheck("/health");
  app
    .addNodeService("audited", "test/fixtures/schema-migrations")
    .withMigrations("src/migrate-main.ts")
    .withReference(audit)
    .waitFor(audit);
  return app;
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

async function text(url: string, init?: RequestInit): Promise<string> {
  const response = await fetch(url, init);
  const body = await response.text();
  expect(response.status, `${url}: ${body}`).toBe(200);
  return body;
}

/** The statement's refusal as "<SQLSTATE> <message>", or undefined when it succeeds. */
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

describe("a plain app that creates its own tables", () => {
  it("connects as the database owner, created its table at start, and writes and reads rows", async () => {
    const writer = running().getEndpoint("writer");
    expect(await text(`${writer}/whoami`)).toBe("notesdb_owner");
    expect(await text(`${writer}/notes`, { method: "POST", body: "first note" })).toBe("ok");
    expect(JSON.parse(await text(`${writer}/notes`))).toEqual(["first note"]);
  });

  it("with { role: 'runtime' } reads and writes the owner's table but cannot create one", async () => {
    const reader = running().getEndpoint("reader");
    expect(await text(`${reader}/whoami`)).toBe("notesdb_app");
    expect(await text(`${reader}/notes`, { method: "POST", body: "second note" })).toBe("ok");
    expect(JSON.parse(await text(`${reader}/notes`))).toEqual(["first note", "second note"]);
    expect(await text(`${reader}/create`)).toMatch(/^42501 permission denied for schema public/);
  });
});

describe("a service with withMigrations", () => {
  it("gets the runtime role, with rows in every schema its migrations created and no DDL", async () => {
    const env = running().environmentOf("audited") ?? {};
    const url = env.ConnectionStrings__auditdb ?? "";
    expect(decodeURIComponent(new URL(url).username)).toBe("auditdb_app");
    expect(env.AUDITDB_MIGRATIONS_URI).toBeUndefined();
    // The schema did not exist when the roles were ensured: the migrations step made it this run.
    expect(await refusal(url, "INSERT INTO audit.events (what) VALUES ('started')")).toBeUndefined();
    expect(await refusal(url, "SELECT count(*) FROM audit.events")).toBeUndefined();
    expect(await refusal(url, "CREATE TABLE audit.intruder (id int)")).toMatch(/^42501 /);
    expect(await refusal(url, "CREATE TABLE public.intruder (id int)")).toMatch(/^42501 /);
    expect(await refusal(url, "DROP TABLE audit.events")).toMatch(/^42501 must be owner/);
    // The migrations journal stays the owner's.
    expect(await refusal(url, "SELECT count(*) FROM drizzle.journal")).toMatch(
      /^42501 permission denied for schema drizzle/,
    );
  });
});
