import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import {
  claimDirectory,
  deleteContentsAs,
  lstatOrUndefined,
  makeTrustedDirectory,
  notSwappableBy,
  openDirectory,
  resolveTrusted,
  rootOnly,
  UnsafePathError,
  type OsUser,
} from "./postgres-safe-paths.js";

const execFileAsync = promisify(execFile);

/** The OS user PostgreSQL runs as when the AppHost runs as root (PostgreSQL refuses root). */
export const POSTGRES_OS_USER = "postgres";
/** Where, as root, clusters go when the postgres user cannot reach the state directory. */
export const ROOT_DATA_HOME = "/var/lib/outbox-apphost";

/** `$OUTBOX_APPHOST_ROOT_DATA`, else ROOT_DATA_HOME (tests point it at an empty directory). */
export function rootDataHome(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.OUTBOX_APPHOST_ROOT_DATA || ROOT_DATA_HOME);
}

export type { OsUser } from "./postgres-safe-paths.js";

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

/** Where, as root, the cluster of `dataDir` lives when it is kept outside the state directory. */
export function relocatedClusterPath(dataDir: string): string {
  const hash = createHash("sha256").update(path.resolve(dataDir)).digest("hex").slice(0, 16);
  return path.join(rootDataHome(), hash, "pgdata");
}

/**
 * Where a cluster's files live: `<dataDir>/pgdata`, dataDir being `<stateDir>/data/<resource>`.
 * As root, the postgres user needs search permission down to it: the AppHost grants it on the
 * directories it owns (the state directory and data/, search only: their files stay 0600), never
 * on the directories above. When those block the postgres user, the cluster lives under
 * rootDataHome() instead and `<dataDir>/pgdata` is a symbolic link to it (`--fresh` removes both).
 *
 * As root, nothing the postgres user could have planted is followed: every directory down to the
 * cluster must be one that user cannot replace, `pgdata` may only be a link to
 * relocatedClusterPath(), and the cluster itself must be a real directory the postgres user owns.
 * Anything else fails with an UnsafePathError naming the path, before anything is changed there.
 */
export async function clusterDirectory(dataDir: string, user: OsUser | undefined): Promise<string> {
  const link = path.join(dataDir, "pgdata");
  if (!user) {
    await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
    return link;
  }
  const root: OsUser = { uid: 0, gid: 0 };
  const dataRoot = path.dirname(dataDir);
  const stateDir = path.dirname(dataRoot);
  await makeTrustedDirectory(dataRoot, notSwappableBy(user, POSTGRES_OS_USER));
  // An older AppHost gave dataDir to the postgres user: root takes it back before looking inside.
  await claimDirectory(dataDir, {
    owner: root,
    mode: 0o700,
    takeOverFrom: [user.uid],
    keepExistingMode: true,
  });
  const existing = await lstatOrUndefined(link);
  if (existing?.isSymbolicLink()) {
    const target = await fs.readlink(link);
    const expected = relocatedClusterPath(dataDir);
    if (target !== expected)
      throw new UnsafePathError(
        link,
        `it is a symbolic link to ${target}, and the AppHost only ever links it to ${expected}; remove the link (and find out who made it) before starting again`,
      );
    await claimDirectory(dataDir, { owner: root, mode: 0o700 });
    await relocatedHome(expected, user);
    await claimDirectory(expected, { owner: user, mode: 0o700, keepExistingMode: true });
    return expected;
  }
  if (existing) {
    await claimDirectory(dataDir, { owner: root, mode: 0o711 });
    await claimDirectory(link, { owner: user, mode: 0o700, keepExistingMode: true });
    return link;
  }
  if (await reachableBy(path.dirname(stateDir), user)) {
    // Search permission only, on directories the AppHost made: their files stay private.
    for (const own of [stateDir, dataRoot]) {
      const handle = await openDirectory(await resolveTrusted(own, notSwappableBy(user, POSTGRES_OS_USER)));
      try {
        const { mode } = await handle.stat();
        if ((mode & 0o001) === 0) await handle.chmod((mode & 0o7777) | 0o001);
      } finally {
        await handle.close();
      }
    }
    await claimDirectory(dataDir, { owner: root, mode: 0o711 });
    await claimDirectory(link, { owner: user, mode: 0o700 });
    return link;
  }
  await claimDirectory(dataDir, { owner: root, mode: 0o700 });
  const cluster = relocatedClusterPath(dataDir);
  await relocatedHome(cluster, user);
  // A cluster there without a link to it is a leftover of an interrupted first start.
  await removeEntry(cluster, user);
  await claimDirectory(cluster, { owner: user, mode: 0o700 });
  await fs.symlink(cluster, link);
  return cluster;
}

/**
 * Creates or checks `<rootDataHome()>/<hash>`, the parent of a relocated cluster: root-owned,
 * 0711, with every directory above it root's alone. An older AppHost gave it to the postgres
 * user; root takes it back (then checks what that user left in it).
 */
async function relocatedHome(cluster: string, user: OsUser): Promise<void> {
  const home = path.dirname(cluster);
  const dataHome = path.dirname(home);
  await makeTrustedDirectory(dataHome, rootOnly, 0o755);
  await claimDirectory(home, { owner: { uid: 0, gid: 0 }, mode: 0o711, takeOverFrom: [user.uid] });
}

/**
 * Removes one entry of a root-owned directory. What the postgres user owns is emptied as that
 * user (root never walks a tree that user can change under it); root's own entries go as root.
 */
async function removeEntry(entry: string, user: OsUser): Promise<void> {
  const stat = await lstatOrUndefined(entry);
  if (!stat) return;
  if (stat.isDirectory() && stat.uid === user.uid)
    return deleteContentsAs(entry, user, { removeItself: true });
  if (stat.isDirectory() && stat.uid !== 0)
    throw new UnsafePathError(entry, `it is owned by uid ${stat.uid}`);
  await fs.rm(entry, { recursive: true, force: true });
}

/**
 * Removes the clusters kept under rootDataHome() for a state directory (what `--fresh` wipes):
 * only those at the place the AppHost derives; a link pointing anywhere else is left to the
 * state directory's removal, which deletes the link, not what it points at.
 */
export async function removeRelocatedClusters(stateDir: string): Promise<string[]> {
  const removed: string[] = [];
  const dataRoot = path.join(stateDir, "data");
  for (const resource of await fs.readdir(dataRoot).catch(() => [])) {
    const dataDir = path.join(dataRoot, resource);
    const target = await fs.readlink(path.join(dataDir, "pgdata")).catch(() => undefined);
    const expected = relocatedClusterPath(dataDir);
    if (target !== expected) continue;
    const home = path.dirname(expected);
    if (process.getuid?.() !== 0) {
      await fs.rm(home, { recursive: true, force: true });
    } else {
      if (!(await lstatOrUndefined(home))) continue;
      const user = await ensurePostgresUser(() => {});
      await relocatedHome(expected, user);
      for (const entry of await fs.readdir(home)) await removeEntry(path.join(home, entry), user);
      await fs.rmdir(home);
    }
    removed.push(home);
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
  if (user) await claimDirectory(clusterDir, { owner: user, mode: 0o700, keepExistingMode: true });
  else await fs.mkdir(clusterDir, { recursive: true, mode: 0o700 });
  await fs.rm(passwordFile, { force: true });
  // "wx" = O_CREAT|O_EXCL: never opens a file or link that appeared in its place meanwhile.
  const handle = await fs.open(passwordFile, "wx", 0o600);
  try {
    await handle.writeFile(`${options.password}\n`);
    if (user) await handle.chown(user.uid, user.gid);
  } finally {
    await handle.close();
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
    await emptyDirectory(clusterDir, user).catch((cleanup: Error) => options.log(cleanup.message));
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

/** Empties a cluster directory: as root, through the postgres user, who owns everything in it. */
async function emptyDirectory(directory: string, user: OsUser | undefined): Promise<void> {
  if (user) return deleteContentsAs(directory, user);
  for (const entry of await fs.readdir(directory).catch(() => []))
    await fs.rm(path.join(directory, entry), { recursive: true, force: true });
}
