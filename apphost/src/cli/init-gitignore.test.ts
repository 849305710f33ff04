import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ignoreStateDirectory, ignoresStateDirectory } from "./init-gitignore.js";

let dir: string;
const gitignore = () => path.join(dir, ".gitignore");

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "apphost-init-gitignore-"));
});

afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe("ignoreStateDirectory", () => {
  it("creates a .gitignore when there is none", async () => {
    await expect(fs.access(gitignore())).rejects.toThrow();
    expect(await ignoreStateDirectory(dir)).toBe("created");
    expect(await fs.readFile(gitignore(), "utf8")).toBe(".apphost/\n");
  });

  it("appends to the user's file, after a missing final newline, keeping every byte of it", async () => {
    const mine = "# mine\nnode_modules\r\n*.log";
    await fs.writeFile(gitignore(), mine);
    expect(await ignoreStateDirectory(dir)).toBe("appended");
    expect(await fs.readFile(gitignore(), "utf8")).toBe(`${mine}\n.apphost/\n`);
    // Once is enough.
    expect(await ignoreStateDirectory(dir)).toBe("unchanged");
    expect(await fs.readFile(gitignore(), "utf8")).toBe(`${mine}\n.apphost/\n`);
  });

  it("leaves a file that already ignores .apphost untouched", async () => {
    for (const line of [".apphost", "/.apphost/", "  .apphost/*  ", "**/.apphost"]) {
      const text = `dist\n${line}\n`;
      await fs.writeFile(gitignore(), text);
      expect(await ignoreStateDirectory(dir)).toBe("unchanged");
      expect(await fs.readFile(gitignore(), "utf8")).toBe(text);
    }
  });
});

describe("ignoresStateDirectory", () => {
  it("reads the common spellings; a later negation or another directory does not count", () => {
    expect(ignoresStateDirectory(".apphost/\n")).toBe(true);
    expect(ignoresStateDirectory("")).toBe(false);
    expect(ignoresStateDirectory("# .apphost/\n")).toBe(false);
    expect(ignoresStateDirectory("apphost/\n.apphost-old/\n")).toBe(false);
    expect(ignoresStateDirectory(".apphost/\n!.apphost/\n")).toBe(false);
    expect(ignoresStateDirectory("!.apphost\n.apphost\n")).toBe(true);
  });
});
