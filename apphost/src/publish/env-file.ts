// Publishing again into a directory whose `.env` (or secrets.env) the user edited: the file is
// regenerated from the model, and every value the user left there wins. A key the new file also
// writes keeps the user's value in place; a key the new file only shows as a commented default
// (`# APPHOST_IMAGE_WEB=…`) becomes the user's line there; any other key of the old file (one the
// model no longer has, or one the user added) is kept at the end under a comment, and reported.
// A value the user emptied is written anew (a new secret, the default setting). Comment lines of
// the user's are not kept: the generated comments describe the new model.

const ASSIGNMENT = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/;
const COMMENTED_DEFAULT = /^#\s?([A-Za-z_][A-Za-z0-9_]*)=/;

/** `KEY=value` lines of an env file, in order (a key given twice: the last value, as Compose reads it). */
export function parseEnvFile(text: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const match = ASSIGNMENT.exec(line);
    if (match?.[1] !== undefined && match[2] !== undefined) values.set(match[1], match[2]);
  }
  return values;
}

export interface MergedEnvFile {
  text: string;
  /** Keys of the previous file that the new one does not write, kept at its end. */
  kept: string[];
}

/** The regenerated file `next` with the values of the `previous` file the user left (undefined: none). */
export function mergeEnvFile(previous: string | undefined, next: string): MergedEnvFile {
  if (previous === undefined) return { text: next, kept: [] };
  const old = parseEnvFile(previous);
  const written = new Set(parseEnvFile(next).keys());
  const used = new Set<string>();
  const lines = next.split("\n").map((line) => {
    const assignment = ASSIGNMENT.exec(line);
    const key = assignment?.[1] ?? COMMENTED_DEFAULT.exec(line)?.[1];
    if (key === undefined || !old.has(key) || used.has(key)) return line;
    // A commented default is replaced only by a key the new file does not also assign.
    if (assignment === null && written.has(key)) return line;
    used.add(key);
    // An emptied value is regenerated (a secret) or back to its default: the new line stands.
    const value = old.get(key) ?? "";
    if (value === "" && assignment !== null) return line;
    return `${key}=${value}`;
  });
  const kept = [...old.keys()].filter((key) => !used.has(key));
  let text = lines.join("\n");
  if (kept.length > 0) {
    if (!text.endsWith("\n")) text += "\n";
    text +=
      "\n# Kept from the previous file: the model no longer writes these (or you added them).\n" +
      "# Remove the ones nothing uses.\n" +
      kept.map((key) => `${key}=${old.get(key) ?? ""}\n`).join("");
  }
  return { text, kept };
}
