import { spawn } from "node:child_process";
import { constants, type Stats } from "node:fs";
import fs, { type FileHandle } from "node:fs/promises";
import path from "node:path";

export interface OsUser {
  uid: number;
  gid: number;
}

/**
 * Why a directory on a path could be replaced or filled by someone the AppHost does not trust,
 * or undefined when it cannot.
 */
export type DirectoryRule = (stat: Stats) => string | undefined;

const STICKY = 0o1000;

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, "0");
}

/** Only root can change the directory's entries (a sticky root-owned directory such as /tmp counts). */
export const rootOnly: DirectoryRule = (stat) => {
  if (stat.uid !== 0) return `it is owned by uid ${stat.uid}, not by root`;
  if ((stat.mode & 0o022) !== 0 && (stat.mode & STICKY) === 0)
    return `it is writable by users other than root (mode ${octal(stat.mode)})`;
  return undefined;
};

/** `user` cannot rename or replace the directory's entries. */
export function notSwappableBy(user: OsUser, name: string): DirectoryRule {
  return (stat) => {
    if (stat.uid === user.uid) return `it is owned by the ${name} user`;
    if ((stat.mode & STICKY) !== 0) return undefined;
    if ((stat.mode & 0o002) !== 0) return `it is writable by every user (mode ${octal(stat.mode)})`;
    if ((stat.mode & 0o020) !== 0 && stat.gid === user.gid)
      return `it is writable by the ${name} group (mode ${octal(stat.mode)})`;
    return undefined;
  };
}

/** A path the AppHost refuses to act on as root; the message names it and says why. */
export class UnsafePathError extends Error {
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`Refusing to use ${path} for PostgreSQL data: ${reason}. Nothing was changed there.`);
    this.name = "UnsafePathError";
  }
}

/**
 * The real path of `target`, having checked with `rule` every directory the lookup passes through
 * (the ones symbolic links lead to included). A link on the way is safe when the directory holding
 * it passes the rule: only a trusted user can have put it there.
 */
export async function resolveTrusted(target: string, rule: DirectoryRule): Promise<string> {
  const pending = path.resolve(target).split("/").filter(Boolean);
  let current = "/";
  const check = (dir: string, stat: Stats): void => {
    if (!stat.isDirectory()) throw new UnsafePathError(dir, "it is not a directory");
    const reason = rule(stat);
    if (reason) throw new UnsafePathError(dir, reason);
  };
  check(current, await fs.lstat(current));
  let links = 0;
  for (let name = pending.shift(); name !== undefined; name = pending.shift()) {
    if (name === ".") continue;
    // `current` never contains a link, so a lexical ".." is the real parent.
    if (name === "..") {
      current = path.dirname(current);
      continue;
    }
    const next = path.join(current, name);
    const stat = await fs.lstat(next);
    if (stat.isSymbolicLink()) {
      if (++links > 40) throw new UnsafePathError(target, "too many symbolic links on the way");
      const to = await fs.readlink(next);
      pending.unshift(...to.split("/").filter(Boolean));
      if (path.isAbsolute(to)) current = "/";
      continue;
    }
    check(next, stat);
    current = next;
  }
  return current;
}

/**
 * `mkdir -p` that creates nothing below a directory failing `rule`: the part of `dir` that exists
 * is vetted first, then the whole path once created.
 */
export async function makeTrustedDirectory(dir: string, rule: DirectoryRule, mode = 0o700): Promise<void> {
  let existing = path.resolve(dir);
  while (!(await fs.stat(existing).catch(() => undefined))) existing = path.dirname(existing);
  await resolveTrusted(existing, rule);
  await fs.mkdir(dir, { recursive: true, mode });
  await resolveTrusted(dir, rule);
}

/** `fs.lstat`, undefined when nothing is there. */
export async function lstatOrUndefined(file: string): Promise<Stats | undefined> {
  return fs.lstat(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined;
    throw error;
  });
}

/**
 * Opens a directory without following a link in its last component (the caller has vetted the
 * ones above): what the handle changes (fchown, fchmod) is the directory that was checked.
 */
export async function openDirectory(dir: string): Promise<FileHandle> {
  try {
    return await fs.open(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "ELOOP" && code !== "ENOTDIR") throw error;
    // With O_DIRECTORY, Linux reports a link as ENOTDIR: ask what is there, for the message.
    const link = code === "ELOOP" || (await lstatOrUndefined(dir))?.isSymbolicLink();
    throw new UnsafePathError(dir, link ? "it is a symbolic link" : "it is not a directory");
  }
}

export interface ClaimOptions {
  owner: OsUser;
  mode: number;
  /** Owners (uids) an existing directory may have; it is then handed to `owner` and given `mode`. */
  takeOverFrom?: number[];
  /** Leave an existing directory's mode alone (PostgreSQL checks its data directory's own). */
  keepExistingMode?: boolean;
}

/**
 * Creates `dir` (its parent vetted by the caller) or checks the one there: a real directory, owned
 * by `owner` or by one of `takeOverFrom`. Changes go through a handle opened without following
 * links, so they land on the directory that was checked.
 */
export async function claimDirectory(dir: string, options: ClaimOptions): Promise<void> {
  const created = await fs.mkdir(dir, { mode: 0o700 }).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === "EEXIST") return false;
      throw error;
    },
  );
  const handle = await openDirectory(dir);
  try {
    const stat = await handle.stat();
    const { owner } = options;
    const allowed = [owner.uid, ...(options.takeOverFrom ?? [])];
    if (!created && !allowed.includes(stat.uid))
      throw new UnsafePathError(dir, `it is owned by uid ${stat.uid}, not by uid ${owner.uid}`);
    if (stat.uid !== owner.uid || stat.gid !== owner.gid) await handle.chown(owner.uid, owner.gid);
    if ((created || !options.keepExistingMode) && (stat.mode & 0o7777) !== options.mode)
      await handle.chmod(options.mode);
  } finally {
    await handle.close();
  }
}

/**
 * Deletes everything inside `dir` as `user` (`find -delete` never follows links, and as that user
 * it can delete only what that user could anyway); with `removeItself`, then removes the emptied
 * directory as the caller, whose parent the caller has vetted.
 */
export async function deleteContentsAs(
  dir: string,
  user: OsUser,
  options: { removeItself?: boolean } = {},
): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn("find", [dir, "-mindepth", "1", "-delete"], {
      uid: user.uid,
      gid: user.gid,
      cwd: "/",
      env: { PATH: "/usr/bin:/bin", LC_ALL: "C" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let errors = "";
    child.stderr.on("data", (chunk: Buffer) => (errors = (errors + chunk.toString("utf8")).slice(-2000)));
    child.once("error", reject);
    child.once("close", (code) =>
      code === 0
        ? resolve()
        : reject(
            new Error(`could not empty ${dir} as uid ${user.uid}: ${errors.trim() || `exit code ${code}`}`),
          ),
    );
  });
  if (options.removeItself) await fs.rmdir(dir);
}
