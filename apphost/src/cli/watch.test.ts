import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createApp } from "../model/app-builder.js";
import { isIgnoredPath, ServiceWatcher, watchTargets } from "./watch.js";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("watch mode", () => {
  it("watches each service's folder and the workspace packages it depends on, never infrastructure", async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), "apphost-watch-root-"));
    cleanups.push(() => fs.rm(root, { recursive: true, force: true }));
    const real = await fs.realpath(root);
    for (const dir of ["api", "shared", "node_modules/@x"])
      await fs.mkdir(path.join(root, dir), { recursive: true });
    await fs.writeFile(
      path.join(root, "api", "package.json"),
      JSON.stringify({ dependencies: { "@x/shared": "1.0.0", "left-pad": "1.0.0" } }),
    );
    await fs.symlink(path.join(root, "shared"), path.join(root, "node_modules/@x/shared"));
    await fs.mkdir(path.join(root, "node_modules/left-pad"));
    const app = createApp();
    app.addPostgres("pg").addDatabase("db");
    app.addNodeService("api", "api");
    await fs.mkdir(path.join(root, "web"));
    app.addNodeApp("web", "web", { entry: "server.js" });
    expect(watchTargets(app, root)).toEqual([
      { resource: "api", directories: [path.join(root, "api"), path.join(real, "shared")] },
      { resource: "web", directories: [path.join(root, "web")] },
    ]);
  });

  it("ignores tests, editor files and node_modules", () => {
    expect(isIgnoredPath("/r/svc/src/main.ts")).toBe(false);
    expect(isIgnoredPath("/r/svc/src/main.test.ts")).toBe(true);
    expect(isIgnoredPath("/r/svc/node_modules/x/index.js")).toBe(true);
    expect(isIgnoredPath("/r/svc/src/.main.ts.swp")).toBe(true);
    expect(isIgnoredPath("/r/svc/src/main.ts~")).toBe(true);
  });

  it("restarts only the service whose file changed, once per burst, and queues a change made during a restart", async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), "apphost-watch-"));
    cleanups.push(() => fs.rm(root, { recursive: true, force: true }));
    for (const dir of ["a/src", "b/src", "shared"]) await fs.mkdir(path.join(root, dir), { recursive: true });
    for (const file of ["a/src/main.ts", "b/src/main.ts", "shared/index.ts", "a/src/main.test.ts"])
      await fs.writeFile(path.join(root, file), "// v1\n");
    const restarts: Array<{ resource: string; changed: string[] }> = [];
    let release: (() => void) | undefined;
    const watcher = new ServiceWatcher({
      targets: [
        { resource: "a", directories: [path.join(root, "a"), path.join(root, "shared")] },
        { resource: "b", directories: [path.join(root, "b"), path.join(root, "shared")] },
      ],
      debounceMs: 150,
      restart: async (resource, changed) => {
        restarts.push({ resource, changed: changed.map((f) => path.relative(root, f)) });
        if (resource === "a" && restarts.length === 1)
          await new Promise<void>((resolve) => (release = resolve));
      },
    });
    await watcher.start();
    cleanups.push(() => watcher.close());

    // A burst of saves to one service: one restart of that service only.
    await fs.writeFile(path.join(root, "a/src/main.ts"), "// v2\n");
    await fs.writeFile(path.join(root, "a/src/extra.ts"), "// new\n");
    await fs.writeFile(path.join(root, "a/src/main.test.ts"), "// ignored\n");
    await waitFor(() => restarts.length === 1, "the first restart");
    expect(restarts[0]).toEqual({ resource: "a", changed: ["a/src/main.ts", "a/src/extra.ts"] });

    // Changed again while its restart still runs: restarted once more afterwards, not concurrently.
    await fs.writeFile(path.join(root, "a/src/main.ts"), "// v3\n");
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(restarts).toHaveLength(1);
    release?.();
    await waitFor(() => restarts.length === 2, "the queued restart");
    expect(restarts[1]).toEqual({ resource: "a", changed: ["a/src/main.ts"] });

    // A shared package restarts every service that uses it.
    await fs.writeFile(path.join(root, "shared/index.ts"), "// v2\n");
    await waitFor(() => restarts.length === 4, "both services");
    expect(
      restarts
        .slice(2)
        .map((r) => r.resource)
        .sort(),
    ).toEqual(["a", "b"]);
  });
});
