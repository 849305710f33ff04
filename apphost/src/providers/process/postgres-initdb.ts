import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** The OS user PostgreSQL runs as when the AppHost runs as root (PostgreSQL refuses root). */
export const POSTGRES_OS_USER = "postgres";
/** Where, as root, clusters go when the postgres user cannot reach the state directory. */
export const ROOT_DATA_HOME = "/var/lib/outbox-apphost";

/** `$OUTBOX_APPHOST_ROOT_DATA`, else ROOT_DATA_HOME (tests point it at an empty directory). */
export function rootDataHome(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.OUTBOX_APPHOST_ROOT_DATA || ROOT_DATA_HOME);
}

export interface OsUser {
  uid: number;
  gid: number;
}

/** Runs a command and returns its standard output (execFile's, promisified). */
export type CommandRunner = (command: string, args: string[]) => Promise<{ stdout: string }>;

const runCommand: CommandRunner = (command, args) => execFileAsync(command, args);

/** The lookup or creation under way in this process: the servers of one AppHost share it. */
let ensuring: Promise<OsUser> | undefined;

/**
 * The postgres OS user, created (with its group) when missing. Several servers starting at once
 * share one lookup; when another AppHost creates the user at the same moment (our `useradd` then
 * fails: it exists), the user it made is used.
 */
export function ensurePostgresUser(
  log: (message: string) => void,
  run: CommandRunner = runCommand,
): Promise<OsUser> {
  if (run !== runCommand) return lookupOrCreate(log, run);
  ensuring ??= lookupOrCreate(log, run).catch((error: unknown) => {
    ensuring = undefined;
    throw error;
  });
  return ensuring;
}

async function lookupOrCreate(log: (message: string) => void, run: CommandRunner): Promise<OsUser> {
  const lookup = async (): Promise<OsUser> => {
    const [uid, gid] = await Promise.all([
      run("id", ["-u", POSTGRES_OS_USER]).then((r) => Number(r.stdout.trim())),
      run("id", ["-g", POSTGRES_OS_USER]).then((r) => Number(r.stdout.trim())),
    ]);
    return { uid, gid };
  };
  try {
    return await lookup();
  } catch {
    log(`creating the OS user "${POSTGRES_OS_USER}" to run PostgreSQL as (it refuses to run as root)`);
    try {
      await run("useradd", ["--system", "--user-group", "--no-create-home", POSTGRES_OS_USER]);
    } catch (error) {
      // Created meanwhile by another process: that user will do.
      const made = await lookup().catch(() => undefined);
      if (made) return made;
      throw new Error(
        `Running as root, but there is no "${POSTGRES_OS_USER}" OS user to run PostgreSQL as and it could not be created (${(error as Error).message.trim()}).`,
      );
    }
    return lookup();
  }
}

/**
 * Whether `user` can search every directory from `/` down to `target` (what opening a file below
 * it needs), judged by the mode bits as the kernel would for a user that is not root.
 */
export async function reachableBy(target: string, user: OsUser): Promise<boolean> {
  let current = path.resolve(target);
  for (;;) {
    const stat = await fs.stat(current).catch(() => undefined);
    if (stat) {
      const bit = stat.uid === user.uid ? 0o100 : stat.gid === user.gid ? 0o010 : /* others */ 0o001;
      if ((stat.mode & bit) === 0) return false;
    }
    const parent = path.dirname(current);
    if (parent === current) return true;
    current = parent;
  }
}

/**
 * Where a cluster's files live: `<dataDir>/pgdata`, dataDir being `<stateDir>/data/<resource>`.
 * As root, the postgres user needs search permission down to it: the AppHost grants it on the
 * directories it owns (the state directory and data/, search only: their files stay 0600), never
 * on the directories above. When those block the postgres user, the cluster lives under
 * rootDataHome() instead and `<dataDir>/pgdata` is a symbolic link to it (`--fresh` removes both).
 */
export async function clusterDirectory(dataDir: string, user: OsUser | undefined): Promise<string> {
  const link = path.join(dataDir, "pgdata");
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  if (!user) return link;
  const existing = await fs.readlink(link).catch(() => undefined);
  if (existing) return existing;
  const dataRoot = path.dirname(dataDir);
  const stateDir = path.dirname(dataRoot);
  if (await reachableBy(path.dirname(stateDir), user)) {
    for (const own of [stateDir, dataRoot]) {
      const { mode } = await fs.stat(own);
      if ((mode & 0o001) === 0) await fs.chmod(own, (mode & 0o7777) | 0o001);
    }
    await fs.chown(dataDir, user.uid, user.gid);
    return link;
  }
  const dataHome = rootDataHome();
  const home = path.join(
    dataHome,
    createHash("sha256").update(path.resolve(dataDir)).digest("hex").slice(0, 16),
  );
  await fs.mkdir(dataHome, { recursive: true, mode: 0o755 });
  await fs.rm(home, { recursive: true, force: true });
  await fs.mkdir(home, { mode: 0o700 });
  await fs.chown(home, user.uid, user.gid);
  const cluster = path.join(home, "pgdata");
  await fs.symlink(cluster, link);
  return cluster;
}

/** Removes the clusters kept under rootDataHome() for a state directory (what `--fresh` wipes). */
export async function removeRelocatedClusters(stateDir: string): Promise<string[]> {
  const removed: string[] = [];
  const dataHome = rootDataHome();
  const dataRoot = path.join(stateDir, "data");
  for (const resource of await fs.readdir(dataRoot).catch(() => [])) {
    const target = await fs.readlink(path.join(dataRoot, resource, "pgdata")).catch(() => undefined);
    if (!target || !path.resolve(target).startsWith(`${dataHome}/`)) continue;
    await fs.rm(path.dirname(target), { recursive: true, force: true });
    removed.push(path.dirname(target));
  }
  return removed;
}

export interface InitdbOptions {
  initdb: string;
  clusterDir: string;
  superuser: string;
  password: string;
  user: OsUser | undefined;
  log: (message: string) => void;
  timeoutMs?: number;
}

/**
 * Runs initdb with the superuser password in a 0600 file beside the cluster (inside the state
 * directory), readable by the postgres user only, removed whatever happens. A failed initdb leaves
 * no half-made cluster behind, so the next start tries again from scratch.
 */
export async function initdb(options: InitdbOptions): Promise<void> {
  const { clusterDir, user } = options;
  const passwordFile = path.join(path.dirname(clusterDir), "initdb-password");
  await fs.mkdir(clusterDir, { recursive: true, mode: 0o700 });
  await fs.rm(passwordFile, { force: true });
  await fs.writeFile(passwordFile, `${options.password}\n`, { mode: 0o600, flag: "wx" });
  if (user) {
    await fs.chown(passwordFile, user.uid, user.gid);
    await fs.chown(clusterDir, user.uid, user.gid);
  }
  try {
    await run(
      options.initdb,
      [
        `--pgdata=${clusterDir}`,
        "--auth=scram-sha-256",
        `--username=${options.superuser}`,
        `--pwfile=${passwordFile}`,
        "--encoding=UTF8",
        "--locale=C",
      ],
      user,
      options.log,
      options.timeoutMs ?? 120_000,
    );
  } catch (error) {
    await emptyDirectory(clusterDir);
    throw error;
  } finally {
    await fs.rm(passwordFile, { force: true });
  }
}

function run(
  command: string,
  args: string[],
  user: OsUser | undefined,
  log: (message: string) => void,
  timeoutMs: number,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      ...user,
      cwd: "/",
      env: { PATH: "/usr/bin:/bin", LC_ALL: "C", LANG: "C" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const collect = (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      output = (output + text).slice(-4000);
      for (const line of text.split("\n")) if (line.trim()) log(line);
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`initdb could not start: ${error.message}`));
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else
        reject(
          new Error(
            signal === "SIGKILL"
              ? `initdb did not finish within ${timeoutMs} ms`
              : `initdb failed (${signal ?? `exit code ${code}`}): ${output.trim()}`,
          ),
        );
    });
  });
}

async function emptyDirectory(directory: string): Promise<void> {
  for (const entry of await fs.readdir(directory).catch(() => []))
    await fs.rm(path.join(directory, entry), { recursive: true, force: true });
}
