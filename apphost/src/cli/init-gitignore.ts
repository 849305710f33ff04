// Keeps the AppHost's state directory (.apphost/: data, logs, generated secrets) out of git. The
// user's .gitignore is appended to, never rewritten.

import fs from "node:fs/promises";
import path from "node:path";

/** What `ignoreStateDirectory` did to the .gitignore. */
export type GitignoreChange = "created" | "appended" | "unchanged";

const ENTRY = ".apphost/";

/** Lines that already ignore a top-level .apphost directory. */
const IGNORING = new Set([
  ".apphost",
  ".apphost/",
  "/.apphost",
  "/.apphost/",
  ".apphost/*",
  "/.apphost/*",
  "**/.apphost",
  "**/.apphost/",
]);

/** Makes `<directory>/.gitignore` ignore `.apphost/`: creates it, appends to it, or leaves it alone. */
export async function ignoreStateDirectory(directory: string): Promise<GitignoreChange> {
  const file = path.join(directory, ".gitignore");
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    // 'wx': a .gitignore created meanwhile is not replaced; it is then appended to below.
    try {
      await fs.writeFile(file, `${ENTRY}\n`, { flag: "wx" });
      return "created";
    } catch (createError) {
      if ((createError as NodeJS.ErrnoException).code !== "EEXIST") throw createError;
      text = await fs.readFile(file, "utf8");
    }
  }
  if (ignoresStateDirectory(text)) return "unchanged";
  const separator = text === "" || text.endsWith("\n") ? "" : "\n";
  await fs.appendFile(file, `${separator}${ENTRY}\n`);
  return "appended";
}

/**
 * Whether a .gitignore's text ignores `.apphost/` at the top level. The common spellings only:
 * a later `!.apphost` re-includes it, and then it counts as not ignored.
 */
export function ignoresStateDirectory(text: string): boolean {
  let ignored = false;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (IGNORING.has(line)) ignored = true;
    else if (line.startsWith("!") && IGNORING.has(line.slice(1))) ignored = false;
  }
  return ignored;
}
