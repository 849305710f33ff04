// The bench's baseline worktree against a real, throw-away git repository: which commit a ref
// resolves to, that the worktree holds that commit's files, and that it is gone (files and git's
// registration) after remove() and after a failed install. npm is replaced by a stand-in here:
// the real `npm ci` is what `npm run bench -- --baseline` runs.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createBaselineWorktree, resolveBaselineRef } from "./baseline.js";

let repo: string;
const git = (...args: string[]) => execFileSync("git", args, { cwd: repo, encoding: "utf8" }).trim();
const quiet = () => undefined;

function commitFile(content: string, message: string): string {
  writeFileSync(path.join(repo, "file.txt"), content);
  git("add", "file.txt");
  git("-c", "user.name=bench", "-c", "user.email=bench@example.invalid", "commit", "-q", "-m", message);
  return git("rev-parse", "HEAD");
}

beforeEach(() => {
  repo = mkdtempSync(path.join(os.tmpdir(), "bench-baseline-test-"));
  git("init", "-q", "-b", "work");
});

afterEach(() => {
  rmSync(repo, { recursive: true, force: true });
});

describe("resolveBaselineRef", () => {
  it("resolves an explicit ref to its commit and subject", async () => {
    const first = commitFile("one", "first");
    commitFile("two", "second");
    await expect(resolveBaselineRef(repo, "HEAD~1")).resolves.toEqual({
      ref: "HEAD~1",
      commit: first,
      subject: "first",
    });
  });

  it("defaults to main when there is no origin/main, and says what to do when neither exists", async () => {
    const first = commitFile("one", "first");
    await expect(resolveBaselineRef(repo, null)).rejects.toThrow(
      /none of origin\/main, main exists: pass --baseline <git-ref>/,
    );
    git("branch", "main", first);
    commitFile("two", "second");
    await expect(resolveBaselineRef(repo, null)).resolves.toMatchObject({ ref: "main", commit: first });
  });

  it("refuses a ref that is not a commit", async () => {
    commitFile("one", "first");
    await expect(resolveBaselineRef(repo, "no-such-branch")).rejects.toThrow(
      /--baseline no-such-branch: not a commit/,
    );
  });
});

describe("createBaselineWorktree", () => {
  it("checks the commit out detached, installs there, and remove() takes the files and the registration away", async () => {
    const first = commitFile("one", "first");
    commitFile("two", "second");
    const installedIn: string[] = [];
    let registered: (() => Promise<void>) | undefined;
    let registeredBeforeInstall = false;
    const worktree = await createBaselineWorktree(repo, first, {
      log: quiet,
      onCreated: (remove) => (registered = remove),
      install: (dir) => {
        installedIn.push(dir);
        registeredBeforeInstall = registered !== undefined;
        // What npm ci leaves: untracked files; they go too.
        writeFileSync(path.join(dir, "installed.txt"), "x");
        return Promise.resolve();
      },
    });
    try {
      expect(installedIn).toEqual([worktree.dir]);
      expect(readFileSync(path.join(worktree.dir, "file.txt"), "utf8")).toBe("one");
      expect(git("worktree", "list")).toContain(worktree.dir);
      expect(worktree.installS).toBeGreaterThanOrEqual(0);
      // The removal was handed out before the install, for an interrupt during it.
      expect(registeredBeforeInstall).toBe(true);
    } finally {
      await registered?.();
    }
    expect(existsSync(worktree.dir)).toBe(false);
    expect(git("worktree", "list")).not.toContain(worktree.dir);
    // The checkout this ran from is untouched.
    expect(readFileSync(path.join(repo, "file.txt"), "utf8")).toBe("two");
    await worktree.remove(); // twice is harmless
  });

  it("removes the worktree when the install fails, and passes the failure on", async () => {
    const first = commitFile("one", "first");
    let dir = "";
    await expect(
      createBaselineWorktree(repo, first, {
        log: quiet,
        install: (d) => {
          dir = d;
          return Promise.reject(new Error("npm ci failed: no cache"));
        },
      }),
    ).rejects.toThrow(/npm ci failed: no cache/);
    expect(dir).not.toBe("");
    expect(existsSync(dir)).toBe(false);
    expect(git("worktree", "list").split("\n")).toHaveLength(1);
  });
});
