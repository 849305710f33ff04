import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { createApp } from "../apphost/src/model/app-builder.js";
import {
  ensurePostgresUser,
  removeRelocatedClusters,
} from "../apphost/src/providers/process/postgres-initdb.js";
import { DistributedApplication } from "../apphost/src/runtime/distributed-application.js";

const execFileAsync = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

async function tempDir(prefix: string, mode: number): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  await fs.chmod(dir, mode);
  cleanups.push(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The files below `dir` that `find`, run as `user`, can read (what another local user sees). */
async function readableBy(user: { uid: number; gid: number }, dir: string): Promise<string[]> {
  const { stdout } = await execFileAsync("find", [dir, "-type", "f", "-readable"], {
    uid: user.uid,
    gid: user.gid,
    cwd: "/",
  }).catch((error: { stdout: string }) => ({ stdout: error.stdout })); // "Permission denied" exits 1
  return stdout.split("\n").filter(Boolean);
}

describe.runIf(isRoot)("as root, with PostgreSQL in the state directory", () => {
  it("keeps the broker's journal unreadable to other users", async () => {
    // A checkout the postgres user can reach: its cluster stays in place, so the state directory
    // and data/ become searchable by every user.
    const rootDir = await tempDir("apphost-root-journal-", 0o755);
    const stateDir = path.join(rootDir, ".apphost");
    const model = createApp({ name: "root-journal" });
    model.addPostgres("pg").addDatabase("db");
    model.addArtemis("broker").addQueue("journal-probe");
    const app = new DistributedApplication(model, { rootDir, stateDir, mode: "process" });
    cleanups.push(async () => {
      await app.stop();
      await removeRelocatedClusters(stateDir);
    });
    await app.start();

    const postgres = await ensurePostgresUser(() => {});
    const broker = path.join(stateDir, "data", "broker");
    const journal = path.join(broker, "instance", "data", "journal");
    // Precondition: the journal exists, and the postgres user can reach into the state directory.
    expect((await fs.readdir(journal)).filter((f) => f.endsWith(".amq")).length).toBeGreaterThan(0);
    expect(await readableBy(postgres, path.join(stateDir, "data", "pg", "pgdata"))).toContain(
      path.join(stateDir, "data", "pg", "pgdata", "PG_VERSION"),
    );
    expect(await readableBy(postgres, broker)).toEqual([]);
    expect((await fs.stat(broker)).mode & 0o777).toBe(0o700);
  });
});
