// Writing the publish output safely into a directory others may share (a team folder, /tmp):
// nothing is written through a symbolic link (an existing link in the output tree is refused, and
// files are opened with O_NOFOLLOW), a secrets file is created 0600 from its first byte, and an
// existing secrets file is reused only when it is a regular file of the current user that nobody
// else can read or write: one planted by someone else could hand the deployment passwords they know.

import { constants } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";

/** A refusal with a message for the user: publish writes nothing more. */
export class PublishError extends Error {
  override name = "PublishError";
}

const NO_FOLLOW = constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** The output directory and every directory below it that `relative` needs, refusing links. */
export async function ensureDirectory(root: string, relative = "."): Promise<void> {
  let current = root;
  await ensureOne(current, root);
  for (const part of path.normalize(relative).split(path.sep)) {
    if (part === "" || part === ".") continue;
    if (part === "..") throw new PublishError(`Refusing to write outside ${root}: ${relative}`);
    current = path.join(current, part);
    await ensureOne(current, root);
  }
}

async function ensureOne(dir: string, root: string): Promise<void> {
  const stat = await fs.lstat(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined;
    throw error;
  });
  if (stat === undefined) {
    // recursive only for the output directory's own missing parents, which the user named.
    await fs.mkdir(dir, { recursive: dir === root, mode: 0o755 });
    return ensureOne(dir, root);
  }
  if (stat.isSymbolicLink())
    throw new PublishError(
      `Refusing to publish through the symbolic link ${dir} (it could point anywhere): ` +
        (dir === root ? "give the real directory as --output" : "remove it, or publish into a new directory"),
    );
  if (!stat.isDirectory()) throw new PublishError(`${dir} exists and is not a directory`);
}

/**
 * Writes one file of the output. A secret file is created with mode 0600 (never widened later,
 * never chmod-ed after the write) and, if it already exists, must pass `checkPrivate`.
 */
export async function writeOutputFile(
  file: string,
  content: string,
  options: { secret: boolean },
): Promise<void> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(
      file,
      constants.O_WRONLY | constants.O_CREAT | NO_FOLLOW,
      options.secret ? 0o600 : 0o644,
    );
  } catch (error) {
    throw linkError(error, file);
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new PublishError(`${file} exists and is not a regular file`);
    if (options.secret) checkPrivate(file, stat);
    await handle.truncate(0);
    await handle.writeFile(content, "utf8");
  } finally {
    await handle.close();
  }
}

/**
 * An existing secrets file's text, or undefined when there is none. Refused (PublishError) when it
 * is a link, not a regular file, not the current user's, or readable or writable by others.
 */
export async function readPrivateFile(file: string): Promise<string | undefined> {
  return readRegularFile(file, (stat) => checkPrivate(file, stat));
}

/** A regular file opened without following a link (ELOOP → PublishError), `check`ed, then read. */
async function readRegularFile(
  file: string,
  check: (stat: { uid: number; mode: number }) => void = () => undefined,
): Promise<string | undefined> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, constants.O_RDONLY | NO_FOLLOW);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw linkError(error, file);
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new PublishError(`${file} exists and is not a regular file`);
    check(stat);
    return await handle.readFile("utf8");
  } finally {
    await handle.close();
  }
}

/** The current user's, and no access for group or others (0600 or stricter). */
function checkPrivate(file: string, stat: { uid: number; mode: number }): void {
  const uid = process.getuid?.();
  if (uid !== undefined && stat.uid !== uid)
    throw new PublishError(
      `Refusing to use ${file}: it belongs to uid ${stat.uid}, not to you (uid ${uid}). Someone else could have ` +
        `chosen its secrets. Check it, then remove it (new secrets are generated) or publish into a private directory.`,
    );
  if ((stat.mode & 0o077) !== 0)
    throw new PublishError(
      `Refusing to use ${file}: its mode is ${(stat.mode & 0o777).toString(8).padStart(4, "0")}, others can ` +
        `read or change its secrets. If it is yours and unchanged: chmod 600 ${file}, then publish again.`,
    );
}

function linkError(error: unknown, file: string): unknown {
  // O_NOFOLLOW on a symbolic link fails with ELOOP.
  if ((error as NodeJS.ErrnoException).code === "ELOOP")
    return new PublishError(`Refusing to write through the symbolic link ${file}: remove it first`);
  return error;
}

/**
 * The output directory's .gitignore with `entry` added: the user's own lines stay, and an entry
 * already there (as `name` or `/name`) is not added twice.
 */
export function mergeGitignore(existing: string | undefined, entry: string): string {
  const text = existing ?? "";
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  if (lines.includes(entry) || lines.includes(`/${entry}`)) return text;
  return `${text}${text === "" || text.endsWith("\n") ? "" : "\n"}${entry}\n`;
}

/** A file of the output read for merging (a link is refused, not followed); undefined if absent. */
export async function readOutputFile(file: string): Promise<string | undefined> {
  return readRegularFile(file);
}
