import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

/**
 * The docs name the tests behind each guarantee as a file and a quoted title, e.g.
 * `test/receipts.test.ts` "mark every outbox row delivered…". This finds those references and
 * checks that the file exists and holds the title, so a renamed or deleted test shows up as a
 * broken doc instead of a claim nothing backs any more.
 */

const repositoryRoot = fileURLToPath(new URL("../../../", import.meta.url));

/** The documents whose every statement names its test. */
export const documentsWithTestReferences = ["docs/guarantees.md", "docs/failure-modes.md"] as const;

export interface TestReference {
  document: string;
  file: string;
  /** A piece of a quoted title: titles are quoted as `describe › it`, and `…` shortens them. */
  fragment: string;
}

/** Every (file, title fragment) a document names. A title follows its file or an earlier title. */
export function findTestReferences(document: string, text: string): TestReference[] {
  const flat = text.replace(/\s+/g, " ");
  const references: TestReference[] = [];
  // A backticked test file, then quoted titles up to the next file, semicolon or table cell.
  for (const match of flat.matchAll(/`([\w./-]+\.test\.ts)`((?:[^`|;]*?"[^"]+")*)/g)) {
    const [, file = "", titles = ""] = match;
    for (const [, title = ""] of titles.matchAll(/"([^"]+)"/g)) {
      for (const fragment of title.split(/ › |…/)) {
        if (fragment.trim().length > 0) references.push({ document, file, fragment: fragment.trim() });
      }
    }
    if (titles === "") references.push({ document, file, fragment: "" });
  }
  return references;
}

/** True when `source` (a test file) has a test or suite title that contains `fragment`. */
export function titleIn(source: string, fragment: string): boolean {
  const flat = source.replace(/\s+/g, " ");
  if (fragment === "" || flat.includes(fragment)) return true;
  // describe.each / it.each titles carry placeholders ($name, %s) filled in at run time.
  for (const [, title = ""] of flat.matchAll(
    /\b(?:describe|it|test)(?:\.each\(.*?\))?\(\s*["'`]([^"'`]+)["'`]/g,
  )) {
    if (!/\$\w+|%[sdio]/.test(title)) continue;
    const pattern = title
      .split(/\$\w+|%[sdio]/)
      .map((piece) => piece.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
      .join(".+?");
    if (new RegExp(pattern).test(fragment)) return true;
  }
  return false;
}

/** The references of every listed document that name a missing file or a title not in it. */
export async function brokenTestReferences(root = repositoryRoot): Promise<TestReference[]> {
  const broken: TestReference[] = [];
  for (const document of documentsWithTestReferences) {
    const references = findTestReferences(document, await readFile(`${root}/${document}`, "utf8"));
    for (const reference of references) {
      const source = await readFile(`${root}/${reference.file}`, "utf8").catch(() => undefined);
      if (source === undefined || !titleIn(source, reference.fragment)) broken.push(reference);
    }
  }
  return broken;
}
