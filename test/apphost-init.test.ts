import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NodeAppResource, NpmScriptResource } from "@outbox/apphost";
import { repositoryRoot } from "@outbox/apphost/testing";
import { loadModelFile } from "../apphost/src/cli/model-file.js";
import { DistributedApplication } from "../apphost/src/runtime/distributed-application.js";
import { eventually } from "./support/receiver.js";

// `apphost init` run by the package's launcher in a user's npm-workspaces project (outside this
// repository, @outbox/apphost under node_modules), then the model it wrote loaded by the CLI's own
// model loader and started: the detected apps answer on their injected ports.

const execFileAsync = promisify(execFile);
const launcher = path.join(repositoryRoot, "apphost/bin/apphost.js");

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function apphost(args: string[], cwd: string): Promise<Result> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [launcher, ...args], {
      cwd,
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

/** A server that answers every request with its package's name, on the injected HOST and PORT. */
const SERVER = `const http = require("node:http");
const { name } = require("./package.json");
http.createServer((_, res) => res.end(name)).listen(Number(process.env.PORT), process.env.HOST);
`;

let project: string;
let app: DistributedApplication | undefined;

async function write(relative: string, content: string): Promise<void> {
  const file = path.join(project, relative);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, content);
}

beforeAll(async () => {
  project = await fs.mkdtemp(path.join(os.tmpdir(), "apphost-init-project-"));
  await write(
    "package.json",
    JSON.stringify({
      name: "@acme/shop",
      type: "module",
      workspaces: ["packages/*"],
      scripts: { start: "npm start -w api" },
      devDependencies: { "@outbox/apphost": "*" },
    }),
  );
  // A plain node start script, an npm script that is not `node <file>`, a dev-only and a library package.
  await write(
    "packages/api/package.json",
    JSON.stringify({ name: "api", scripts: { start: "node server.js" } }),
  );
  await write("packages/api/server.js", SERVER);
  await write(
    "packages/web/package.json",
    JSON.stringify({ name: "@acme/web", scripts: { start: "npm run serve", serve: "node server.js" } }),
  );
  await write("packages/web/server.js", SERVER);
  await write("packages/site/package.json", JSON.stringify({ name: "site", scripts: { dev: "vite" } }));
  await write("packages/types/package.json", JSON.stringify({ name: "@acme/types" }));
  await write(".gitignore", "node_modules/");
  await fs.mkdir(path.join(project, "node_modules", "@outbox"), { recursive: true });
  await fs.symlink(
    path.join(repositoryRoot, "apphost"),
    path.join(project, "node_modules", "@outbox", "apphost"),
  );
});

afterAll(async () => {
  await app?.stop();
  await fs.rm(project, { recursive: true, force: true });
});

describe("apphost init in a user's project", () => {
  let model: string;

  it("writes apphost.ts for the workspaces, appends .apphost/ to .gitignore and prints what it did", async () => {
    // Precondition: no model yet.
    await expect(fs.access(path.join(project, "apphost.ts"))).rejects.toThrow();
    const result = await apphost(["init"], project);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(
      [
        `Detected in ${project}:`,
        '  api   node app    packages/api/package.json, start script "node server.js"',
        '  site  hint only   packages/site/package.json, dev script "vite" and no start script',
        '  web   npm script  packages/web/package.json, start script "npm run serve"',
        "Wrote apphost.ts",
        "Added .apphost/ to .gitignore",
        "Next: npx apphost",
        "",
      ].join("\n"),
    );
    expect(await fs.readFile(path.join(project, ".gitignore"), "utf8")).toBe("node_modules/\n.apphost/\n");
    model = await fs.readFile(path.join(project, "apphost.ts"), "utf8");
    expect(model).toContain('import { createApp } from "@outbox/apphost";');
    expect(model).toContain('// app.addNpmScript("site", "packages/site", "dev").withHttpEndpoint();');
  });

  it("the written model loads with the CLI's model loader and declares the detected apps", async () => {
    const loaded = await loadModelFile(undefined, project);
    expect(loaded.file).toBe(path.join(project, "apphost.ts"));
    expect(loaded.model.name).toBe("shop");
    const resources = loaded.model.resources();
    expect(resources.map((r) => r.name)).toEqual(["api", "web"]);
    const [api, web] = resources;
    expect(api).toBeInstanceOf(NodeAppResource);
    expect(api).not.toBeInstanceOf(NpmScriptResource);
    expect(api).toMatchObject({ directory: "packages/api", httpEndpoint: { name: "http" } });
    expect(web).toBeInstanceOf(NpmScriptResource);
    expect(web).toMatchObject({ directory: "packages/web", script: "start", httpEndpoint: { name: "http" } });

    // Started as written, each app answers on the port the AppHost injected.
    app = new DistributedApplication(loaded.model, {
      rootDir: loaded.rootDir,
      stateDir: path.join(project, ".apphost"),
      mode: "process",
      console: process.env.APPHOST_TEST_LOGS === "1",
    });
    await app.start();
    for (const [name, answer] of [
      ["api", "api"],
      ["web", "@acme/web"],
    ] as const) {
      const url = app.snapshot().find((r) => r.name === name)?.endpoints.http;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const body = await eventually(`${name} answering`, async () => {
        const response = await fetch(`${url}/`);
        return response.ok ? response.text() : undefined;
      });
      expect(body).toBe(answer);
    }
    await app.stop();
    app = undefined;
  });

  it("a second init without --force refuses with exit code 2 and leaves every file as it was", async () => {
    const gitignore = await fs.readFile(path.join(project, ".gitignore"));
    const before = await fs.readFile(path.join(project, "apphost.ts"));
    expect(before.toString()).toBe(model);
    const result = await apphost(["init"], project);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe(
      `apphost | init: ${path.join(project, "apphost.ts")} already exists; nothing was changed (--force replaces it)\n`,
    );
    expect((await fs.readFile(path.join(project, "apphost.ts"))).equals(before)).toBe(true);
    expect((await fs.readFile(path.join(project, ".gitignore"))).equals(gitignore)).toBe(true);
  });

  it("apphost --help lists init, and init --help explains it", async () => {
    const help = await apphost(["--help"], project);
    expect(help.stdout).toContain("apphost init [<directory>] [--force]");
    const initHelp = await apphost(["init", "--help"], project);
    expect(initHelp.code).toBe(0);
    expect(initHelp.stdout).toMatch(/^Usage: apphost init \[<directory>\] \[--force\]/);
    expect(initHelp.stdout).toContain("--force     replace an existing model file");
  });
});
