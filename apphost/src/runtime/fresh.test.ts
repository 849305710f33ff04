import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { assertWipeable, wipeStateDirectory } from "./fresh.js";

let dir: string;
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe("--fresh", () => {
  it("refuses a directory that is not an AppHost state directory, and leaves it alone", async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "fresh-test-"));
    await fs.writeFile(path.join(dir, "thesis.tex"), "years of work");
    await expect(wipeStateDirectory(dir, () => {})).rejects.toThrow(/not an AppHost state directory/);
    expect(await fs.readFile(path.join(dir, "thesis.tex"), "utf8")).toBe("years of work");
    await expect(assertWipeable("/")).rejects.toThrow(/refuses/);
    await expect(assertWipeable(os.homedir())).rejects.toThrow(/refuses/);
    await fs.writeFile(path.join(dir, "file"), "");
    await expect(assertWipeable(path.join(dir, "file"))).rejects.toThrow(/not a directory/);
  });

  it("wipes a state directory, an empty one, or none", async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "fresh-test-"));
    await fs.mkdir(path.join(dir, "data", "pg"), { recursive: true });
    await fs.writeFile(path.join(dir, "settings.json"), "{}");
    await wipeStateDirectory(dir, () => {});
    await expect(fs.access(dir)).rejects.toThrow();
    await fs.mkdir(dir);
    await assertWipeable(dir);
    await assertWipeable(path.join(dir, "missing"));
  });
});
