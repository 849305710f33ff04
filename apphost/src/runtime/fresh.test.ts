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

  it("refuses a directory whose settings.json or state.json is another tool's, and leaves it alone", async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "fresh-test-"));
    await fs.writeFile(path.join(dir, "main.tex"), "years of work");
    // An editor's settings, an empty object, another program's state, a directory, not JSON at all.
    for (const [name, content] of [
      ["settings.json", '{ "editor.tabSize": 2, "files.exclude": { "**/.git": true } }'],
      ["settings.json", "{}"],
      ["settings.json", '{ "pg": { "secrets": { "password": 42 } } }'],
      ["state.json", '{ "version": 3, "resources": [] }'],
      ["state.json", "not json"],
    ] as const) {
      await fs.writeFile(path.join(dir, name), content);
      await expect(
        wipeStateDirectory(dir, () => {}),
        `${name}: ${content}`,
      ).rejects.toThrow(/not an AppHost state directory/);
      await fs.rm(path.join(dir, name));
    }
    await fs.mkdir(path.join(dir, "settings.json"));
    await expect(assertWipeable(dir)).rejects.toThrow(/not an AppHost state directory/);
    expect(await fs.readFile(path.join(dir, "main.tex"), "utf8")).toBe("years of work");
  });

  it("wipes a state directory (by its state.json or its settings.json), an empty one, or none", async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "fresh-test-"));
    const state = {
      app: "outbox",
      mode: "process",
      apphostPid: 1234,
      apphostIdentity: "boot:1",
      updatedAt: new Date().toISOString(),
      resources: [],
    };
    const settings = {
      "sender-pg": { secrets: { password: "pw" }, ports: { tcp: 5432 } },
      greeting: { value: "hi" },
    };
    for (const [name, content] of [
      ["state.json", state],
      ["settings.json", settings],
    ] as const) {
      await fs.mkdir(path.join(dir, "data", "pg"), { recursive: true });
      await fs.writeFile(path.join(dir, name), JSON.stringify(content));
      await wipeStateDirectory(dir, () => {});
      await expect(fs.access(dir)).rejects.toThrow();
      await fs.mkdir(dir);
    }
    await assertWipeable(dir);
    await assertWipeable(path.join(dir, "missing"));
  });
});
