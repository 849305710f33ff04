import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SettingsStore } from "./settings-store.js";

let dir: string;

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "settings-store-"));
});

afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe("SettingsStore", () => {
  it("keeps every secret when saves overlap (resources start concurrently and each saves)", async () => {
    const file = path.join(dir, "settings.json");
    const store = await SettingsStore.load(file);
    const saves: Array<Promise<void>> = [];
    const generated: string[] = [];
    for (let i = 0; i < 40; i++) {
      generated.push(store.secret(`resource-${i}`, "password"));
      saves.push(store.save());
    }
    await Promise.all(saves);
    const reloaded = await SettingsStore.load(file);
    expect(reloaded.secretValues().sort()).toEqual(generated.sort());
    expect(SettingsStore.storedSecretValues(file).sort()).toEqual(generated.sort());
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
  });
});
