import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { createApp } from "../../model/app-builder.js";
import { DistributedApplication } from "../../runtime/distributed-application.js";
import { waitUntil } from "../../runtime/wait.js";
import {
  ensurePostgresUser,
  relocatedClusterPath,
  removeRelocatedClusters,
  type OsUser,
} from "./postgres-initdb.js";
import { removeStalePid } from "./postgres-stale-pid.js";

// What someone who can act as the postgres OS user can plant for the next `sudo npm run apphost`.
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

function setEnv(name: string, value: string): void {
  const before = process.env[name];
  process.env[name] = value;
  cleanups.push(() => {
    if (before === undefined) delete process.env[name];
    else process.env[name] = before;
    return Promise.resolve();
  });
}

/** A directory standing in for /etc/cron.d: a file and a subdirectory, all owned by `owner`. */
async function victimDirectory(owner: OsUser): Promise<string> {
  const victim = await tempDir("pg-root-victim-", 0o755);
  await fs.writeFile(path.join(victim, "sentinel"), "* * * * * root true\n", { mode: 0o644 });
  await fs.mkdir(path.join(victim, "nested"), { mode: 0o755 });
  await fs.writeFile(path.join(victim, "nested", "file"), "keep me\n", { mode: 0o600 });
  for (const entry of ["", "sentinel", "nested", "nested/file"])
    await fs.lchown(path.join(victim, entry), owner.uid, owner.gid);
  return victim;
}

/** Every entry below `dir` (and `dir` itself): type, owner, mode, content. */
async function snapshot(dir: string): Promise<string[]> {
  const lines: string[] = [];
  const walk = async (relative: string): Promise<void> => {
    const full = path.join(dir, relative);
    const stat = await fs.lstat(full);
    const head = `${relative || "."} ${stat.uid}:${stat.gid} ${(stat.mode & 0o7777).toString(8)}`;
    if (stat.isDirectory()) {
      lines.push(`${head} dir`);
      for (const name of (await fs.readdir(full)).sort()) await walk(path.join(relative, name));
    } else lines.push(`${head} ${await fs.readFile(full, "utf8")}`);
  };
  await walk("");
  return lines;
}

/** A state directory below a 0700 parent (so the cluster is relocated), its root data home a temp dir. */
async function rootLayout(): Promise<{ rootDir: string; stateDir: string; dataDir: string }> {
  setEnv("OUTBOX_APPHOST_ROOT_DATA", path.join(await tempDir("pg-root-data-", 0o755), "home"));
  setEnv("OUTBOX_APPHOST_ROOT_CACHE", await tempDir("pg-root-cache-", 0o755));
  const rootDir = await tempDir("pg-root-links-", 0o700);
  const stateDir = path.join(rootDir, ".apphost");
  const dataDir = path.join(stateDir, "data", "pg");
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  return { rootDir, stateDir, dataDir };
}

async function startPostgres(rootDir: string, stateDir: string): Promise<DistributedApplication> {
  const model = createApp({ name: "root-links" });
  model.addPostgres("pg").addDatabase("db");
  const app = new DistributedApplication(model, { rootDir, stateDir, mode: "process" });
  cleanups.push(async () => {
    await app.stop();
    await removeRelocatedClusters(stateDir);
  });
  await app.start();
  return app;
}

async function selectOne(app: DistributedApplication): Promise<unknown> {
  const client = new pg.Client({ connectionString: app.getConnectionString("db") });
  client.on("error", () => {});
  await client.connect();
  try {
    return (await client.query("SELECT 1 AS one")).rows[0];
  } finally {
    await client.end();
  }
}

async function owner(file: string): Promise<string> {
  const stat = await fs.lstat(file);
  return `${stat.uid} ${(stat.mode & 0o7777).toString(8)}`;
}

describe.runIf(isRoot)("as root, a pgdata link the AppHost did not make", () => {
  it.each([
    ["the postgres user", true],
    ["root (like /etc/cron.d)", false],
  ])(
    "is refused at start, and the directory it points at (owned by %s) is untouched",
    async (_, byPostgres) => {
      const user = await ensurePostgresUser(() => {});
      const { rootDir, stateDir, dataDir } = await rootLayout();
      const victim = await victimDirectory(byPostgres ? user : { uid: 0, gid: 0 });
      const link = path.join(dataDir, "pgdata");
      await fs.symlink(victim, link);
      const before = await snapshot(victim);
      expect(before).toContain(
        "sentinel " + `${byPostgres ? `${user.uid}:${user.gid}` : "0:0"} 644 * * * * * root true\n`,
      );

      const failure = await startPostgres(rootDir, stateDir).then(
        () => undefined,
        (error: Error) => error,
      );
      // What matters first: nothing there was chowned or wiped. Then: the start says why.
      expect(await snapshot(victim)).toEqual(before);
      expect(failure?.message).toContain(
        `Refusing to use ${link} for PostgreSQL data: it is a symbolic link to ${victim}`,
      );
      expect(await fs.readlink(link)).toBe(victim);
    },
  );

  it("is refused when the derived cluster directory was swapped for a link (a home the postgres user owned)", async () => {
    const user = await ensurePostgresUser(() => {});
    const { rootDir, stateDir, dataDir } = await rootLayout();
    const victim = await victimDirectory({ uid: 0, gid: 0 });
    // The layout an earlier AppHost left: the home of the relocated cluster owned by postgres, 0700,
    // in which that user replaced the cluster with a link.
    const cluster = relocatedClusterPath(dataDir);
    await fs.mkdir(path.dirname(cluster), { recursive: true, mode: 0o700 });
    await fs.chown(path.dirname(cluster), user.uid, user.gid);
    await fs.symlink(victim, cluster);
    await fs.symlink(cluster, path.join(dataDir, "pgdata"));
    const before = await snapshot(victim);

    const failure = await startPostgres(rootDir, stateDir).then(
      () => undefined,
      (error: Error) => error,
    );
    expect(await snapshot(victim)).toEqual(before);
    expect(failure?.message).toContain(
      `Refusing to use ${cluster} for PostgreSQL data: it is a symbolic link`,
    );
  });

  it("is refused when the root data home is writable by others", async () => {
    await ensurePostgresUser(() => {});
    const { rootDir, stateDir, dataDir } = await rootLayout();
    const open = path.dirname(path.dirname(path.dirname(relocatedClusterPath(dataDir))));
    await fs.chmod(open, 0o777);
    await expect(startPostgres(rootDir, stateDir)).rejects.toThrow(
      `Refusing to use ${open} for PostgreSQL data: it is writable by users other than root (mode 0777)`,
    );
    await expect(fs.lstat(path.join(dataDir, "pgdata"))).rejects.toThrow(/ENOENT/);
  });
});

describe.runIf(isRoot)("as root, clusters an earlier AppHost made", () => {
  it("keep working in place, the data directory taken back from the postgres user", async () => {
    const user = await ensurePostgresUser(() => {});
    setEnv("OUTBOX_APPHOST_ROOT_DATA", path.join(await tempDir("pg-root-data-", 0o755), "home"));
    const rootDir = await tempDir("pg-root-inplace-", 0o755);
    const stateDir = path.join(rootDir, ".apphost");
    const dataDir = path.join(stateDir, "data", "pg");
    const first = await startPostgres(rootDir, stateDir);
    expect((await fs.lstat(path.join(dataDir, "pgdata"))).isDirectory()).toBe(true);
    await first.stop();
    // What an earlier AppHost left: the data directory given to the postgres user.
    await fs.chown(dataDir, user.uid, user.gid);
    await fs.chmod(dataDir, 0o700);
    expect(await selectOne(await startPostgres(rootDir, stateDir))).toEqual({ one: 1 });
    expect(await owner(dataDir)).toBe("0 711");
    expect(await owner(path.join(dataDir, "pgdata"))).toBe(`${user.uid} 700`);
  });

  it("keep working relocated, the cluster's home taken back from the postgres user", async () => {
    const user = await ensurePostgresUser(() => {});
    const { rootDir, stateDir, dataDir } = await rootLayout();
    const cluster = relocatedClusterPath(dataDir);
    const first = await startPostgres(rootDir, stateDir);
    expect(await fs.readlink(path.join(dataDir, "pgdata"))).toBe(cluster);
    await first.stop();
    await fs.chown(path.dirname(cluster), user.uid, user.gid);
    await fs.chmod(path.dirname(cluster), 0o700);
    expect(await selectOne(await startPostgres(rootDir, stateDir))).toEqual({ one: 1 });
    expect(await owner(path.dirname(cluster))).toBe("0 711");
    expect(await owner(cluster)).toBe(`${user.uid} 700`);
  });

  it("--fresh removes only the cluster at the derived place, never another one a link points at", async () => {
    const user = await ensurePostgresUser(() => {});
    const { stateDir, dataDir } = await rootLayout();
    // Another state directory's cluster in the same root data home.
    const other = path.join(
      path.dirname(path.dirname(relocatedClusterPath(dataDir))),
      "0000000000000000",
      "pgdata",
    );
    await fs.mkdir(other, { recursive: true, mode: 0o700 });
    await fs.writeFile(path.join(other, "PG_VERSION"), "18\n");
    await fs.chown(other, user.uid, user.gid);
    await fs.symlink(other, path.join(dataDir, "pgdata"));
    expect(await removeRelocatedClusters(stateDir)).toEqual([]);
    expect(await fs.readFile(path.join(other, "PG_VERSION"), "utf8")).toBe("18\n");
  });
});

/** Starts `command` and waits until it has exec'd (its /proc exe is `exe`). */
async function running(
  command: string,
  exe: string,
  options: Parameters<typeof spawn>[2],
): Promise<ChildProcess> {
  const child = spawn(command, ["600"], { ...options, stdio: "ignore" });
  cleanups.push(async () => {
    child.kill("SIGKILL");
    await new Promise((resolve) =>
      child.exitCode === null && child.signalCode === null ? child.once("exit", resolve) : resolve(undefined),
    );
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${command} did not start`);
  await waitUntil(async () => (await fs.readlink(`/proc/${pid}/exe`).catch(() => "")) === exe, {
    timeoutMs: 10_000,
    intervalMs: 20,
    what: `${command} to run`,
  });
  return child;
}

describe.runIf(isRoot)("as root, a stale postmaster.pid", () => {
  async function cluster(user: OsUser, pid: number): Promise<string> {
    const dir = path.join(await tempDir("pg-root-pid-", 0o755), "pgdata");
    await fs.mkdir(dir, { mode: 0o700 });
    await fs.chown(dir, user.uid, user.gid);
    await fs.writeFile(path.join(dir, "postmaster.pid"), `${pid}\n${dir}\n`);
    return dir;
  }

  it("never kills an unrelated process it names, even one whose command line names the cluster", async () => {
    const user = await ensurePostgresUser(() => {});
    const sleep = await fs.realpath("/usr/bin/sleep");
    const dir = path.join(await tempDir("pg-root-pid-", 0o755), "pgdata");
    // One of root's processes, and one of the postgres user's in the cluster directory: neither a postgres.
    const rootProcess = await running("sleep", sleep, { argv0: `postgres -D ${dir}` });
    await fs.mkdir(dir, { mode: 0o700 });
    await fs.chown(dir, user.uid, user.gid);
    const userProcess = await running("sleep", sleep, {
      argv0: `postgres -D ${dir}`,
      uid: user.uid,
      gid: user.gid,
      cwd: dir,
    });
    for (const victim of [rootProcess, userProcess]) {
      const pid = victim.pid ?? 0;
      expect(await fs.readFile(`/proc/${pid}/cmdline`, "utf8")).toContain(dir);
      await fs.writeFile(path.join(dir, "postmaster.pid"), `${pid}\n${dir}\n`);
      const lines: string[] = [];
      await removeStalePid(dir, user.uid, (line) => lines.push(line));
      expect(lines.join("\n")).toContain(
        `postmaster.pid names pid ${pid}, which is not a PostgreSQL of this cluster`,
      );
      await expect(fs.access(path.join(dir, "postmaster.pid"))).rejects.toThrow(/ENOENT/);
      expect(victim.exitCode).toBe(null);
      expect(victim.signalCode).toBe(null);
      expect(() => process.kill(pid, 0)).not.toThrow();
    }
  });

  it("kills the left-over postmaster of this very cluster", async () => {
    const user = await ensurePostgresUser(() => {});
    // A stand-in postmaster: an executable named postgres, run as the postgres user in the cluster.
    const bin = await tempDir("pg-root-bin-", 0o755);
    const postgres = path.join(bin, "postgres");
    await fs.copyFile("/usr/bin/sleep", postgres);
    await fs.chmod(postgres, 0o755);
    const dir = await cluster(user, 0);
    const server = await running(postgres, postgres, {
      argv0: `${postgres} -D ${dir}`,
      uid: user.uid,
      gid: user.gid,
      cwd: dir,
    });
    const exited = new Promise((resolve) => server.once("exit", (_, signal) => resolve(signal)));
    await fs.writeFile(path.join(dir, "postmaster.pid"), `${server.pid}\n${dir}\n`);
    const lines: string[] = [];
    await removeStalePid(dir, user.uid, (line) => lines.push(line));
    expect(lines).toEqual([`stopping a PostgreSQL left over from an earlier run (pid ${server.pid})`]);
    expect(await exited).toBe("SIGKILL");
    await expect(fs.access(path.join(dir, "postmaster.pid"))).rejects.toThrow(/ENOENT/);
  });

  it("does not follow a postmaster.pid that is a link", async () => {
    const user = await ensurePostgresUser(() => {});
    const sleep = await fs.realpath("/usr/bin/sleep");
    const target = await running("sleep", sleep, {});
    const elsewhere = path.join(await tempDir("pg-root-pid-", 0o755), "pid");
    await fs.writeFile(elsewhere, `${target.pid}\n`);
    const dir = await cluster(user, 0);
    await fs.rm(path.join(dir, "postmaster.pid"));
    await fs.symlink(elsewhere, path.join(dir, "postmaster.pid"));
    await removeStalePid(dir, user.uid, () => {});
    expect(target.exitCode).toBe(null);
    expect(await fs.readFile(elsewhere, "utf8")).toBe(`${target.pid}\n`);
  });
});
