import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  ensureDirectory,
  mergeGitignore,
  PublishError,
  readPrivateFile,
  writeOutputFile,
} from "./output-files.js";

let dir: string;
let outside: string;

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "outbox-output-files-"));
  outside = await fs.mkdtemp(path.join(os.tmpdir(), "outbox-output-outside-"));
});

afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
  await fs.rm(outside, { recursive: true, force: true });
});

const mode = async (file: string) => (await fs.stat(file)).mode & 0o777;

describe("writing the publish output", () => {
  it("refuses to write through a symbolic link, leaving its target untouched", async () => {
    const target = path.join(outside, "victim");
    await fs.writeFile(target, "original");
    await fs.symlink(target, path.join(dir, "docker-compose.yaml"));
    await expect(
      writeOutputFile(path.join(dir, "docker-compose.yaml"), "x", { secret: false }),
    ).rejects.toThrow(PublishError);
    await expect(
      writeOutputFile(path.join(dir, "docker-compose.yaml"), "x", { secret: false }),
    ).rejects.toThrow(/symbolic link/);
    expect(await fs.readFile(target, "utf8")).toBe("original");
  });

  it("refuses a symbolic link among the output's directories, and an output directory that is one", async () => {
    await fs.symlink(outside, path.join(dir, "artemis"));
    await expect(ensureDirectory(dir, "artemis/broker")).rejects.toThrow(/symbolic link .*artemis/);
    expect(await fs.readdir(outside)).toEqual([]);
    const linked = path.join(outside, "link-to-dir");
    await fs.symlink(dir, linked);
    await expect(ensureDirectory(linked)).rejects.toThrow(/give the real directory/);
    // A fresh tree is created as needed.
    await ensureDirectory(path.join(dir, "new"), "postgres/sender-pg");
    expect((await fs.stat(path.join(dir, "new/postgres/sender-pg"))).isDirectory()).toBe(true);
  });

  it("creates a secrets file 0600 from the start, whatever the umask", async () => {
    const previous = process.umask(0);
    try {
      await writeOutputFile(path.join(dir, ".env"), "A=1\n", { secret: true });
      await writeOutputFile(path.join(dir, "public.yaml"), "a: 1\n", { secret: false });
    } finally {
      process.umask(previous);
    }
    expect(await mode(path.join(dir, ".env"))).toBe(0o600);
    expect(await mode(path.join(dir, "public.yaml"))).toBe(0o644);
  });

  it("does not rewrite an existing secrets file others can read: no write, then chmod", async () => {
    const file = path.join(dir, ".env");
    await fs.writeFile(file, "SECRET_X=old\n", { mode: 0o644 });
    await fs.chmod(file, 0o644);
    await expect(writeOutputFile(file, "SECRET_X=new\n", { secret: true })).rejects.toThrow(/mode is 0644/);
    expect(await fs.readFile(file, "utf8")).toBe("SECRET_X=old\n");
    expect(await mode(file)).toBe(0o644);
  });
});

describe("reusing a secrets file", () => {
  it("reads the user's own private file, and reports none when there is none", async () => {
    const file = path.join(dir, ".env");
    expect(await readPrivateFile(file)).toBeUndefined();
    await fs.writeFile(file, "SECRET_X=mine\n", { mode: 0o600 });
    expect(await readPrivateFile(file)).toBe("SECRET_X=mine\n");
  });

  it("refuses one others can read or write", async () => {
    const file = path.join(dir, ".env");
    await fs.writeFile(file, "SECRET_X=seeded\n");
    await fs.chmod(file, 0o640);
    await expect(readPrivateFile(file)).rejects.toThrow(/mode is 0640.*chmod 600/);
  });

  it("refuses a symbolic link", async () => {
    const target = path.join(outside, "seeded.env");
    await fs.writeFile(target, "SECRET_X=seeded\n", { mode: 0o600 });
    await fs.symlink(target, path.join(dir, ".env"));
    await expect(readPrivateFile(path.join(dir, ".env"))).rejects.toThrow(/symbolic link/);
  });

  it("refuses one that belongs to another user (needs root to plant it; CI runs as root)", async () => {
    expect(process.getuid?.(), "planting another user's file needs root").toBe(0);
    const file = path.join(dir, ".env");
    await fs.writeFile(file, "SECRET_X=seeded\n", { mode: 0o600 });
    await fs.chown(file, 65534, 65534);
    await expect(readPrivateFile(file)).rejects.toThrow(/belongs to uid 65534, not to you \(uid 0\)/);
  });
});

describe("the output's .gitignore", () => {
  it("keeps the user's lines and adds the secrets file once", () => {
    expect(mergeGitignore(undefined, ".env")).toBe(".env\n");
    expect(mergeGitignore("node_modules/\n*.log", ".env")).toBe("node_modules/\n*.log\n.env\n");
    expect(mergeGitignore("node_modules/\n.env\n", ".env")).toBe("node_modules/\n.env\n");
    expect(mergeGitignore("/secrets.env\n", "secrets.env")).toBe("/secrets.env\n");
  });
});
