import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repositoryRoot } from "@outbox/apphost/testing";
import { isAlive } from "./support/process-alive.js";

// The CLI on a model file outside this repository, as a user's project has it: a directory with its
// own package.json, @outbox/apphost under node_modules, an apphost.ts, and no `--import tsx`: the
// package's `apphost` launcher is run with plain node.

const execFileAsync = promisify(execFile);
const launcher = path.join(repositoryRoot, "apphost/bin/apphost.js");

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function apphost(args: string[], cwd: string, timeoutMs = 180_000): Promise<Result> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [launcher, ...args], {
      cwd,
      timeout: timeoutMs,
      env: { ...process.env, APPHOST_DASHBOARD_PORT: "0" },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

// An executable (Python's standard library web server) serving the project's site/ directory: its
// working directory resolves against the model file's directory, not this repository.
const MODEL = `import { createApp } from "@outbox/apphost";

export default () => {
  const app = createApp({ name: "user-project" });
  app
    .addExecutable("web", "python3", [
      "-c",
      "import os, http.server as h; h.ThreadingHTTPServer(('127.0.0.1', int(os.environ['PORT'])), h.SimpleHTTPRequestHandler).serve_forever()",
    ])
    .withWorkingDirectory("site")
    .withHttpEndpoint()
    .withHttpHealthCheck("/hello.txt");
  return app;
};
`;

let project: string;
let elsewhere: string;
let started: Result;

interface State {
  app: string;
  apphostPid: number;
  resources: Array<{ name: string; state: string; health: string; endpoints: Record<string, string> }>;
}

const readState = async () =>
  JSON.parse(await fs.readFile(path.join(project, ".apphost", "state.json"), "utf8")) as State;

beforeAll(async () => {
  project = await fs.mkdtemp(path.join(os.tmpdir(), "apphost-user-project-"));
  elsewhere = await fs.mkdtemp(path.join(os.tmpdir(), "apphost-elsewhere-"));
  await fs.writeFile(
    path.join(project, "package.json"),
    JSON.stringify({ name: "user-project", type: "module" }),
  );
  await fs.mkdir(path.join(project, "node_modules", "@outbox"), { recursive: true });
  await fs.symlink(
    path.join(repositoryRoot, "apphost"),
    path.join(project, "node_modules", "@outbox", "apphost"),
  );
  await fs.mkdir(path.join(project, "site"));
  await fs.writeFile(path.join(project, "site", "hello.txt"), "hello from the user's project\n");
  await fs.writeFile(path.join(project, "apphost.ts"), MODEL);
  // Precondition: nothing of the AppHost's in the project yet.
  await expect(fs.access(path.join(project, ".apphost"))).rejects.toThrow();
  started = await apphost(["--detach", "--mode", "process"], project, 240_000);
  if (started.code !== 0)
    throw new Error(`--detach failed (${started.code}):\n${started.stdout}\n${started.stderr}`);
});

afterAll(async () => {
  // Whatever a failed test left running: stop it through its pid, then remove the directories.
  const state = await readState().catch(() => undefined);
  if (state && isAlive(state.apphostPid)) {
    process.kill(state.apphostPid, "SIGTERM");
    const deadline = Date.now() + 60_000;
    while (isAlive(state.apphostPid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    if (isAlive(state.apphostPid)) process.kill(state.apphostPid, "SIGKILL");
  }
  await fs.rm(project, { recursive: true, force: true });
  await fs.rm(elsewhere, { recursive: true, force: true });
});

describe("the CLI on a user's model file outside the repository", () => {
  it("--detach runs ./apphost.ts with the state in the project's .apphost/ and the project as root", async () => {
    expect(started.stdout).toMatch(/dashboard: http:\/\/\S+\/login/);
    const state = await readState();
    expect(state.app).toBe("user-project");
    expect(isAlive(state.apphostPid)).toBe(true);
    const web = state.resources.find((r) => r.name === "web");
    expect(web).toMatchObject({ state: "Running", health: "Healthy" });
    const url = web?.endpoints.http;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    // Served from <project>/site: the working directory resolved against the model's directory.
    const response = await fetch(`${url}/hello.txt`);
    expect(await response.text()).toBe("hello from the user's project\n");
  });

  it("status finds the same state through --model from another directory", async () => {
    const result = await apphost(["status", "--model", path.join(project, "apphost.ts")], elsewhere);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^user-project: running/);
    expect(result.stdout).toMatch(/web +executable +Running\/Healthy +http:\/\/127\.0\.0\.1:\d+/);
    // --model is relative to the current directory.
    const relative = await apphost(
      ["status", "--model", path.relative(elsewhere, path.join(project, "apphost.ts"))],
      elsewhere,
    );
    expect(relative.stdout).toMatch(/^user-project: running/);
  });

  it("a directory without a model file gets a one-line error and exit code 2", async () => {
    const result = await apphost(["status"], elsewhere);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      `apphost | no model file in ${elsewhere}: expected one of apphost.ts, apphost.mts, apphost.js, apphost.mjs, or pass --model <file>\n`,
    );
  });

  it("stop ends the detached AppHost and what it started", async () => {
    const { apphostPid } = await readState();
    const result = await apphost(["stop"], project);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("stopped; nothing left running");
    expect(isAlive(apphostPid)).toBe(false);
    const status = await apphost(["status"], project);
    expect(status.code).toBe(3);
    expect(status.stdout).toMatch(/^user-project: not running/);
  });
});
