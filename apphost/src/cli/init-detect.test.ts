import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { detectProject, expandWorkspaces, toResourceName, uniqueName } from "./init-detect.js";

let dir: string;

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "apphost-init-detect-"));
});

afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function write(relative: string, content: string): Promise<void> {
  const file = path.join(dir, relative);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, content);
}

const pkg = (manifest: Record<string, unknown>) => JSON.stringify(manifest);

/** name, kind, directory of each detected resource, in order. */
const summary = () =>
  detectProject(dir).resources.map((r) => [r.name, r.kind, r.directory, r.script ?? r.hint ?? r.exposedPort]);

describe("detectProject: npm workspaces", () => {
  it("expands workspace globs and reads each package's start script", async () => {
    await write("package.json", pkg({ name: "shop", workspaces: ["packages/*", "tools/cli"] }));
    await write(
      "packages/api/package.json",
      pkg({ name: "@shop/api", scripts: { start: "node server.js" } }),
    );
    await write(
      "packages/admin/package.json",
      pkg({ name: "admin", scripts: { start: "node --enable-source-maps dist/main.js --port 1" } }),
    );
    await write("packages/web/package.json", pkg({ name: "web", scripts: { start: "next start" } }));
    await write("packages/types/package.json", pkg({ name: "@shop/types" }));
    await write("packages/not-a-package/README.md", "no package.json here");
    await write("tools/cli/package.json", pkg({ name: "cli", scripts: { start: "tsx src/main.ts" } }));

    expect(summary()).toEqual([
      ["admin", "node-app", "packages/admin", undefined],
      ["api", "node-app", "packages/api", undefined],
      ["web", "npm-script", "packages/web", "start"],
      ["cli", "npm-script", "tools/cli", "start"],
    ]);
    const api = detectProject(dir).resources.find((r) => r.name === "api");
    expect(api?.evidence).toBe('packages/api/package.json, start script "node server.js"');
  });

  it("takes `node <file>` start scripts as node apps and anything else as the npm script", async () => {
    const scripts: Record<string, string> = {
      a: "node index.js",
      b: "node --env-file=.env src/index.mjs",
      c: "node --import tsx src/main.ts", // a flag whose value is the next word: not parsed
      d: "NODE_ENV=production node server.js",
      e: "node server.js && echo done",
      f: "vite preview",
    };
    await write("package.json", pkg({ workspaces: ["apps/*"] }));
    for (const [name, start] of Object.entries(scripts))
      await write(`apps/${name}/package.json`, pkg({ name, scripts: { start } }));
    expect(detectProject(dir).resources.map((r) => `${r.name}:${r.kind}`)).toEqual([
      "a:node-app",
      "b:node-app",
      "c:npm-script",
      "d:npm-script",
      "e:npm-script",
      "f:npm-script",
    ]);
  });

  it("a dev script is not a start script: the package becomes a commented hint", async () => {
    await write("package.json", pkg({ workspaces: ["apps/*"] }));
    await write(
      "apps/site/package.json",
      pkg({ name: "site", scripts: { dev: "vite", build: "vite build" } }),
    );
    await write("apps/lib/package.json", pkg({ name: "lib", scripts: { build: "tsc" } }));
    expect(summary()).toEqual([["site", "hint", "apps/site", "dev script"]]);
  });

  it("takes the root package alone when it declares no workspaces, and skips a monorepo root's start", async () => {
    await write("package.json", pkg({ name: "@me/solo", scripts: { start: "node app.js" } }));
    expect(summary()).toEqual([["solo", "node-app", ".", undefined]]);

    await write(
      "package.json",
      pkg({ name: "mono", scripts: { start: "npm start -w api" }, workspaces: { packages: ["api"] } }),
    );
    await write("api/package.json", pkg({ name: "api", scripts: { start: "node main.js" } }));
    expect(summary()).toEqual([["api", "node-app", "api", undefined]]);
  });

  it("without workspaces or a root start script, finds the packages below the root", async () => {
    await write("package.json", pkg({ name: "tools", scripts: { lint: "eslint ." } }));
    await write("backend/package.json", pkg({ name: "backend", scripts: { start: "node index.js" } }));
    await write("backend/Dockerfile", "FROM node:20\n");
    await write("frontend/package.json", pkg({ name: "frontend", scripts: { dev: "vite" } }));
    await write("frontend/Dockerfile", "FROM nginx\nEXPOSE 80\n");
    await write("services/mailer/package.json", pkg({ name: "mailer", scripts: { start: "nodemon" } }));
    await write("backend/node_modules/x/package.json", pkg({ name: "x", scripts: { start: "node x.js" } }));
    expect(summary()).toEqual([
      ["backend", "node-app", "backend", undefined],
      ["frontend", "dockerfile", "frontend", 80],
      ["mailer", "npm-script", "services/mailer", "start"],
    ]);
    // A root that is itself the app keeps its sub-packages (tests, examples) out of the model;
    // their Dockerfiles still count.
    await write("package.json", pkg({ name: "tools", scripts: { start: "node main.js" } }));
    expect(summary()).toEqual([
      ["tools", "node-app", ".", undefined],
      ["backend", "dockerfile", "backend", undefined],
      ["frontend", "dockerfile", "frontend", 80],
    ]);
  });

  it("supports `**`, `./` and `!` exclusions, never entering node_modules", async () => {
    await write("package.json", pkg({ workspaces: ["./services/**", "!services/legacy"] }));
    await write("services/a/package.json", pkg({ name: "a", scripts: { start: "node a.js" } }));
    await write("services/group/b/package.json", pkg({ name: "b", scripts: { start: "node b.js" } }));
    await write("services/legacy/package.json", pkg({ name: "legacy", scripts: { start: "node l.js" } }));
    await write(
      "services/a/node_modules/dep/package.json",
      pkg({ name: "dep", scripts: { start: "node d.js" } }),
    );
    expect(expandWorkspaces(dir, ["./services/**", "!services/legacy"])).toEqual([
      "services/a",
      "services/group/b",
    ]);
    expect(summary().map((r) => r[0])).toEqual(["a", "b"]);
  });

  it("ignores workspace patterns that leave the root", async () => {
    await write("package.json", pkg({ workspaces: ["../*", "/etc"] }));
    expect(expandWorkspaces(dir, ["../*", "/etc"])).toEqual([]);
    expect(summary()).toEqual([]);
  });
});

describe("detectProject: Dockerfiles, Python, Go", () => {
  it("finds Dockerfile directories with their first EXPOSEd port", async () => {
    await write("services/worker/Dockerfile", "FROM node:20\nEXPOSE 9000/tcp 9001\n");
    await write("proxy/Dockerfile", "FROM nginx\n# EXPOSE 1\nEXPOSE ${PORT}\n");
    expect(summary()).toEqual([
      ["proxy", "dockerfile", "proxy", undefined],
      ["worker", "dockerfile", "services/worker", 9000],
    ]);
  });

  it("keeps a package with a start script a node app and notes its Dockerfile", async () => {
    await write("package.json", pkg({ workspaces: ["api", "site"] }));
    await write("api/package.json", pkg({ name: "api", scripts: { start: "node main.js" } }));
    await write("api/Dockerfile", "FROM node:20\n");
    await write("site/package.json", pkg({ name: "site", scripts: { dev: "vite" } }));
    await write("site/Dockerfile", "FROM nginx\nEXPOSE 80\n");
    const { resources } = detectProject(dir);
    expect(resources.map((r) => [r.name, r.kind, r.alsoDockerfile])).toEqual([
      ["api", "node-app", true],
      // Only a dev script: its Dockerfile is what runs it.
      ["site", "dockerfile", undefined],
    ]);
  });

  it("turns Python and Go projects into hints, not guesses", async () => {
    await write("ml/pyproject.toml", "[project]\nname='ml'\n");
    await write("scripts/requirements.txt", "requests\n");
    await write("cmd/gateway/go.mod", "module example.com/gateway\n");
    expect(summary()).toEqual([
      ["ml", "hint", "ml", "Python"],
      ["scripts", "hint", "scripts", "Python"],
      ["gateway", "hint", "cmd/gateway", "Go"],
    ]);
  });

  it("never scans node_modules, dist, .git, .apphost or other dot-directories, nor below maxDepth", async () => {
    await write("node_modules/pkg/Dockerfile", "FROM x\n");
    await write("web/node_modules/pkg/Dockerfile", "FROM x\n");
    await write("dist/Dockerfile", "FROM x\n");
    await write(".git/Dockerfile", "FROM x\n");
    await write(".apphost/data/go.mod", "module x\n");
    await write("a/b/c/Dockerfile", "FROM x\n");
    await write("a/b/c/d/Dockerfile", "FROM x\n");
    // Precondition: the files are there to be found.
    await expect(fs.access(path.join(dir, "web/node_modules/pkg/Dockerfile"))).resolves.toBeUndefined();
    expect(summary()).toEqual([["c", "dockerfile", "a/b/c", undefined]]);
    expect(detectProject(dir, { maxDepth: 4 }).resources.map((r) => r.directory)).toEqual([
      "a/b/c",
      "a/b/c/d",
    ]);
  });

  it("finds nothing in an empty directory, and names the project after the directory", () => {
    expect(detectProject(dir)).toEqual({ projectName: path.basename(dir), resources: [] });
  });
});

describe("resource names", () => {
  it("derives valid names from package and directory names", () => {
    expect(toResourceName("@scope/My_API.v2")).toBe("scope-my-api-v2");
    expect(toResourceName("2fast")).toBe("fast");
    expect(toResourceName("---")).toBe("app");
    expect(toResourceName("x".repeat(80))).toBe("x".repeat(63));
    for (const text of ["Web App", "über", "123", "a--b", `${"a".repeat(62)}-b`])
      expect(toResourceName(text)).toMatch(/^[a-z][a-z0-9-]{0,62}$/);
  });

  it("makes clashing names unique, also at the length limit", () => {
    const taken = new Set<string>();
    expect(["api", "API", "api", "api-2"].map((n) => uniqueName(n, taken))).toEqual([
      "api",
      "api-2",
      "api-3",
      "api-2-2",
    ]);
    const long = "x".repeat(70);
    expect(uniqueName(long, taken)).toBe("x".repeat(63));
    expect(uniqueName(long, taken)).toBe(`${"x".repeat(61)}-2`);
  });

  it("gives packages of the same name in different workspaces different resource names", async () => {
    await write("package.json", pkg({ workspaces: ["a/*", "b/*"] }));
    await write("a/server/package.json", pkg({ name: "@a/server", scripts: { start: "node s.js" } }));
    await write("b/server/package.json", pkg({ name: "@b/server", scripts: { start: "node s.js" } }));
    await write("server/Dockerfile", "FROM x\n");
    expect(summary().map((r) => r[0])).toEqual(["server", "server-2", "server-3"]);
  });
});
