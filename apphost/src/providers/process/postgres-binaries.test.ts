import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { reachableInstallation, treeFingerprint } from "./postgres-binaries.js";
import { ensurePostgresUser } from "./postgres-initdb.js";

const execFileAsync = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const moduleFile = path.join(path.dirname(fileURLToPath(import.meta.url)), "postgres-binaries.ts");
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

async function tempDir(prefix: string, mode: number): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  await fs.chmod(dir, mode);
  cleanups.push(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A stand-in installation below a 0700 directory: bin/, lib/ with a symbolic link, share/ with many files. */
async function lockedInstallation(): Promise<string> {
  const native = path.join(await tempDir("pg-binaries-src-", 0o700), "native");
  await fs.mkdir(path.join(native, "bin"), { recursive: true });
  await fs.mkdir(path.join(native, "lib"));
  await fs.mkdir(path.join(native, "share"));
  await fs.writeFile(path.join(native, "bin", "postgres"), "#!/bin/sh\n", { mode: 0o755 });
  await fs.writeFile(path.join(native, "lib", "libpq.so.5.18"), "x".repeat(100_000));
  await fs.symlink("libpq.so.5.18", path.join(native, "lib", "libpq.so.5"));
  for (let i = 0; i < 300; i++) await fs.writeFile(path.join(native, "share", `f${i}`), `${i}\n`.repeat(200));
  return native;
}

function setCacheRoot(dir: string): void {
  const before = process.env.OUTBOX_APPHOST_ROOT_CACHE;
  process.env.OUTBOX_APPHOST_ROOT_CACHE = dir;
  cleanups.push(() => {
    if (before === undefined) delete process.env.OUTBOX_APPHOST_ROOT_CACHE;
    else process.env.OUTBOX_APPHOST_ROOT_CACHE = before;
    return Promise.resolve();
  });
}

describe("treeFingerprint", () => {
  it("changes when a file is missing or cut short", async () => {
    const native = await lockedInstallation();
    const whole = await treeFingerprint(native);
    await fs.truncate(path.join(native, "lib", "libpq.so.5.18"), 10);
    const cut = await treeFingerprint(native);
    await fs.rm(path.join(native, "share", "f7"));
    expect(new Set([whole, cut, await treeFingerprint(native)]).size).toBe(3);
  });
});

describe.runIf(isRoot)("reachableInstallation as root, with an empty cache", () => {
  it("makes one complete copy when several servers of one AppHost ask at once", async () => {
    const native = await lockedInstallation();
    const cache = await tempDir("pg-binaries-cache-", 0o755);
    setCacheRoot(cache);
    const user = await ensurePostgresUser(() => {});
    const lines: string[] = [];
    const copies = await Promise.all(
      Array.from({ length: 6 }, () => reachableInstallation(native, "18.0", user, (l) => lines.push(l))),
    );
    expect(new Set(copies).size).toBe(1);
    expect(lines.filter((l) => l.includes("copying the PostgreSQL binaries"))).toHaveLength(1);
    expect(await fs.readdir(cache)).toEqual([path.basename(copies[0] ?? "")]);
    expect(await treeFingerprint(copies[0] ?? "")).toBe(await treeFingerprint(native));
  });

  it("makes one complete copy when several AppHosts (processes) ask at once", async () => {
    const native = await lockedInstallation();
    const cache = await tempDir("pg-binaries-cache-", 0o755);
    const script = `
      import { reachableInstallation } from ${JSON.stringify(moduleFile)};
      const user = { uid: Number(process.argv[1]), gid: Number(process.argv[2]) };
      process.stdout.write(await reachableInstallation(${JSON.stringify(native)}, "18.0", user, () => {}));
    `;
    const user = await ensurePostgresUser(() => {});
    const runs = await Promise.all(
      Array.from({ length: 3 }, () =>
        execFileAsync(
          process.execPath,
          ["--import", "tsx", "--input-type=module", "-e", script, String(user.uid), String(user.gid)],
          { env: { ...process.env, OUTBOX_APPHOST_ROOT_CACHE: cache } },
        ),
      ),
    );
    const copies = new Set(runs.map((r) => r.stdout));
    expect(copies.size).toBe(1);
    const [copy] = copies;
    // Whichever rename won, the others removed their staging directories.
    expect(await fs.readdir(cache)).toEqual([path.basename(copy ?? "")]);
    expect(await treeFingerprint(copy ?? "")).toBe(await treeFingerprint(native));
  }, 60_000);

  it("removes the staging directory of a copy whose process died", async () => {
    const native = await lockedInstallation();
    const cache = await tempDir("pg-binaries-cache-", 0o755);
    setCacheRoot(cache);
    // No process can have this pid: the kernel keeps pids below 4194304.
    const abandoned = path.join(cache, "postgres-18.0-000000000000.tmp-4194304-abc123");
    await fs.mkdir(path.join(abandoned, "tree", "bin"), { recursive: true });
    const copy = await reachableInstallation(native, "18.0", await ensurePostgresUser(() => {}), () => {});
    expect(await fs.readdir(cache)).toEqual([path.basename(copy)]);
  });
});
