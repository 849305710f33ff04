import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { reachableBy, type OsUser } from "./postgres-initdb.js";

/** Where, as root, binaries go when the postgres user cannot reach this checkout's node_modules. */
export const ROOT_BINARY_CACHE = "/var/cache/outbox-apphost";

/** `$OUTBOX_APPHOST_ROOT_CACHE`, else ROOT_BINARY_CACHE (tests point it at an empty directory). */
export function rootBinaryCache(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.OUTBOX_APPHOST_ROOT_CACHE || ROOT_BINARY_CACHE);
}

/** Copies under way in this process, by target: the servers of one AppHost share one copy. */
const copying = new Map<string, Promise<void>>();

/**
 * The PostgreSQL installation (bin/, lib/, share/) the postgres user can execute. As root, when
 * this checkout sits below a directory only root can enter (a clone under `mktemp -d` is 0700),
 * a copy is made once into rootBinaryCache() instead of changing any directory's permissions.
 *
 * The copy's name carries a fingerprint of the source tree, and it appears only by an atomic
 * rename of a completed, verified staging copy: a copy that exists is complete, whoever made it.
 * Several servers of one AppHost share one copy (in-process single flight); several AppHosts
 * copy into staging directories of their own, and the first rename wins.
 */
export async function reachableInstallation(
  nativeDir: string,
  version: string,
  user: OsUser,
  log: (message: string) => void,
): Promise<string> {
  if (await reachableBy(path.join(nativeDir, "bin"), user)) return nativeDir;
  const cacheRoot = rootBinaryCache();
  const fingerprint = await treeFingerprint(nativeDir);
  const copy = path.join(cacheRoot, `postgres-${version}-${fingerprint}`);
  if (!(await exists(copy))) {
    let pending = copying.get(copy);
    if (!pending) {
      log(`the postgres user cannot reach ${nativeDir}: copying the PostgreSQL binaries to ${copy}`);
      pending = copyOnce(nativeDir, copy, fingerprint).finally(() => copying.delete(copy));
      copying.set(copy, pending);
    } else {
      log(`waiting for the copy of the PostgreSQL binaries to ${copy} another server of this AppHost makes`);
    }
    try {
      await pending;
    } catch (error) {
      throw new Error(`could not copy the PostgreSQL binaries from ${nativeDir} to ${copy}`, {
        cause: error,
      });
    }
  }
  if (!(await reachableBy(path.join(copy, "bin"), user)))
    throw new Error(`the postgres user cannot reach ${copy} either; check the permissions of ${cacheRoot}`);
  return copy;
}

/** Copies `source` to `target` through a staging directory of this call's own, then renames it into place. */
async function copyOnce(source: string, target: string, fingerprint: string): Promise<void> {
  const cacheRoot = path.dirname(target);
  await fs.mkdir(cacheRoot, { recursive: true, mode: 0o755 });
  await removeAbandonedStaging(cacheRoot);
  const staging = await fs.mkdtemp(`${target}.tmp-${process.pid}-`);
  try {
    const tree = path.join(staging, "tree");
    await fs.cp(source, tree, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
    await fs.chmod(tree, 0o755);
    // What the rename publishes must be the whole tree: compare it with the source's fingerprint.
    const copied = await treeFingerprint(tree);
    if (copied !== fingerprint)
      throw new Error(
        `the copy in ${tree} differs from its source (fingerprint ${copied}, expected ${fingerprint})`,
      );
    await fs.rename(tree, target).catch(async (error: NodeJS.ErrnoException) => {
      // Another AppHost renamed its complete copy into place first: use theirs.
      if ((error.code === "ENOTEMPTY" || error.code === "EEXIST") && (await exists(target))) return;
      throw error;
    });
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
}

/** Staging directories of AppHosts that died while copying (their pid is gone). */
async function removeAbandonedStaging(cacheRoot: string): Promise<void> {
  for (const name of await fs.readdir(cacheRoot).catch(() => [] as string[])) {
    const pid = Number(/\.tmp-(\d+)-[^/]+$/.exec(name)?.[1]);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || isAlive(pid)) continue;
    await fs.rm(path.join(cacheRoot, name), { recursive: true, force: true });
  }
}

/**
 * A digest of a directory tree: every entry's relative path, type, permission bits, and a file's
 * size or a link's target. Equal fingerprints mean the same layout: nothing missing, nothing cut short.
 */
export async function treeFingerprint(root: string): Promise<string> {
  const hash = createHash("sha256");
  const walk = async (relative: string): Promise<void> => {
    const entries = await fs.readdir(path.join(root, relative), { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const child = path.join(relative, entry.name);
      const full = path.join(root, child);
      const stat = await fs.lstat(full);
      const mode = (stat.mode & 0o777).toString(8);
      if (entry.isSymbolicLink()) hash.update(`l ${child} ${await fs.readlink(full)}\n`);
      else if (entry.isDirectory()) {
        hash.update(`d ${child} ${mode}\n`);
        await walk(child);
      } else hash.update(`f ${child} ${mode} ${stat.size}\n`);
    }
  };
  await walk("");
  return hash.digest("hex").slice(0, 12);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}
