import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { createApp } from "../../model/app-builder.js";
import { DistributedApplication } from "../../runtime/distributed-application.js";
import {
  ensurePostgresUser,
  type CommandRunner,
  initdb,
  reachableBy,
  removeRelocatedClusters,
  type OsUser,
} from "./postgres-initdb.js";

const isRoot = process.getuid?.() === 0;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

/** A directory the test owns, 0755 so that the postgres user can run scripts from it. */
async function scratch(mode = 0o755): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "pg-initdb-test-"));
  await fs.chmod(dir, mode);
  cleanups.push(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A stand-in initdb that records what it was given: the password file's path, mode and content. */
async function fakeInitdb(dir: string, exitCode: number): Promise<string> {
  const script = path.join(dir, "initdb");
  await fs.writeFile(
    script,
    `#!/bin/sh
for arg in "$@"; do case "$arg" in --pwfile=*) file="\${arg#--pwfile=}";; --pgdata=*) data="\${arg#--pgdata=}";; esac; done
echo "seen $file $(stat -c %a "$file") $(cat "$file")"
touch "$data/half-made"
exit ${exitCode}
`,
    { mode: 0o755 },
  );
  return script;
}

describe("initdb", () => {
  it("reads the password from a 0600 file inside the state directory and removes it afterwards", async () => {
    const dir = await scratch();
    const stateData = path.join(dir, "state", "data", "pg");
    await fs.mkdir(stateData, { recursive: true, mode: 0o755 });
    const user: OsUser | undefined = isRoot ? await ensurePostgresUser(() => {}) : undefined;
    if (user) await fs.chown(stateData, user.uid, user.gid);
    const cluster = path.join(stateData, "pgdata");
    const lines: string[] = [];
    await initdb({
      initdb: await fakeInitdb(dir, 0),
      clusterDir: cluster,
      superuser: "postgres",
      password: "s3cret-pw",
      user,
      log: (line) => lines.push(line),
    });
    const seen = lines.find((l) => l.startsWith("seen "));
    const [, file, mode, content] = (seen ?? "").trim().split(" ");
    expect(file).toBe(path.join(stateData, "initdb-password"));
    expect(mode).toBe("600");
    expect(content).toBe("s3cret-pw");
    await expect(fs.access(path.join(stateData, "initdb-password"))).rejects.toThrow();
    expect(await fs.readdir(os.tmpdir())).not.toContainEqual(expect.stringMatching(/^pg-password-/));
  });

  it("removes the password file and the half-made cluster when initdb fails", async () => {
    const dir = await scratch();
    const stateData = path.join(dir, "data");
    await fs.mkdir(stateData, { mode: 0o755 });
    const user: OsUser | undefined = isRoot ? await ensurePostgresUser(() => {}) : undefined;
    if (user) await fs.chown(stateData, user.uid, user.gid);
    const cluster = path.join(stateData, "pgdata");
    await expect(
      initdb({
        initdb: await fakeInitdb(dir, 3),
        clusterDir: cluster,
        superuser: "postgres",
        password: "pw",
        user,
        log: () => {},
      }),
    ).rejects.toThrow(/exit code 3/);
    expect(await fs.readdir(stateData)).toEqual(["pgdata"]);
    expect(await fs.readdir(cluster)).toEqual([]);
  });
});

describe.runIf(isRoot)("initdb as root", () => {
  it("refuses a cluster directory that is a link, and neither chowns nor empties what it points at", async () => {
    const dir = await scratch();
    const victim = path.join(dir, "victim");
    await fs.mkdir(victim, { mode: 0o755 });
    await fs.writeFile(path.join(victim, "sentinel"), "keep\n");
    const cluster = path.join(dir, "pgdata");
    await fs.symlink(victim, cluster);
    await expect(
      initdb({
        initdb: await fakeInitdb(dir, 3),
        clusterDir: cluster,
        superuser: "postgres",
        password: "pw",
        user: await ensurePostgresUser(() => {}),
        log: () => {},
      }),
    ).rejects.toThrow(`Refusing to use ${cluster} for PostgreSQL data: it is a symbolic link`);
    expect((await fs.stat(victim)).uid).toBe(0);
    expect(await fs.readdir(victim)).toEqual(["sentinel"]);
  });
});

describe.runIf(isRoot)("PostgreSQL as root below a directory only root can enter", () => {
  it("runs without changing the permissions of any directory it did not create", async () => {
    const locked = await scratch(0o700);
    const stateDir = path.join(locked, "checkout", ".apphost");
    await fs.mkdir(path.dirname(stateDir), { mode: 0o700 });
    const ancestors: string[] = [];
    for (let d = path.dirname(stateDir); ; d = path.dirname(d)) {
      ancestors.push(d);
      if (d === path.dirname(d)) break;
    }
    const modesBefore = await Promise.all(ancestors.map(async (d) => (await fs.stat(d)).mode));
    const user = await ensurePostgresUser(() => {});
    expect(await reachableBy(stateDir, user)).toBe(false);

    const model = createApp({ name: "root-placement" });
    model.addPostgres("pg").addDatabase("db");
    const app = new DistributedApplication(model, { rootDir: locked, stateDir, mode: "process" });
    cleanups.push(async () => {
      await app.stop();
      await removeRelocatedClusters(stateDir);
    });
    await app.start();
    const client = new pg.Client({ connectionString: app.getConnectionString("db") });
    client.on("error", () => {});
    await client.connect();
    expect((await client.query("SELECT current_user AS u")).rows[0]).toEqual({ u: "db_app" });
    await client.end();

    expect(await Promise.all(ancestors.map(async (d) => (await fs.stat(d)).mode))).toEqual(modesBefore);
    const link = await fs.readlink(path.join(stateDir, "data", "pg", "pgdata"));
    expect(link.startsWith("/var/lib/outbox-apphost/")).toBe(true);
    await app.stop();
    expect(await removeRelocatedClusters(stateDir)).toEqual([path.dirname(link)]);
    await expect(fs.access(link)).rejects.toThrow();
  });
});

describe("ensurePostgresUser", () => {
  it("uses the user another AppHost created at the same moment (its own useradd then fails)", async () => {
    // A machine without the user, where several AppHosts look it up, then all try to create it.
    let exists = false;
    let creations = 0;
    const run: CommandRunner = async (command, args) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (command === "id") {
        if (!exists) throw new Error(`id: '${args[1]}': no such user`);
        return { stdout: args[0] === "-u" ? "105\n" : "107\n" };
      }
      if (exists) throw new Error("useradd: user 'postgres' already exists");
      creations += 1;
      exists = true;
      return { stdout: "" };
    };
    const users = await Promise.all([1, 2, 3].map(() => ensurePostgresUser(() => {}, run)));
    expect(users).toEqual([1, 2, 3].map(() => ({ uid: 105, gid: 107 })));
    expect(creations).toBe(1);
  });
});
