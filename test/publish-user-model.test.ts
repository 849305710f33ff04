// `publish` of a user's model, as a user deploys it: a container built here from a tiny image
// (a Perl HTTP server on the local Debian base: no curl, wget or nc in it, so its published health
// check must get by with bash), PostgreSQL, a plain Node app (no service defaults) that Compose
// builds from its folder with the generic Dockerfile, and an executable that publish leaves out.
// The Compose output is built and brought up with docker-compose 1.29 until every container is
// healthy, and taken down with its volumes afterwards, also when a test fails. No registry answers
// here: the Node base image is made for the test from this machine's node and npm
// (APPHOST_NODE_BASE), where a user gets node:20-slim. The Kubernetes output of a
// model with a plain Node app validates offline against the Kubernetes schemas.
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { createApp } from "../apphost/src/model/app-builder.js";
import { publish } from "../apphost/src/publish/publish.js";
import { freePort } from "../apphost/src/runtime/ports.js";
import { eventually } from "./support/receiver.js";
import { useAvailableImages } from "./support/test-images.js";
import { validateManifests } from "./support/kubernetes-validate.js";

const run = promisify(execFile);
const suffix = randomUUID().slice(0, 8);
const project = `publish-user-${suffix}`;
const IMAGE = `publish-user-test/hello:${suffix}`;
const NODE_BASE = `publish-user-test/node-base:${suffix}`;

const SERVER = String.raw`use strict;
use warnings;
use IO::Socket::INET;
$| = 1;
$SIG{TERM} = sub { exit 0 };
my $server = IO::Socket::INET->new(LocalAddr => "0.0.0.0", LocalPort => 8080, Listen => 16, ReuseAddr => 1)
  or die "cannot listen: $!";
print "listening on 8080\n";
while (my $client = $server->accept) {
  eval {
    local $SIG{ALRM} = sub { die "timeout\n" };
    alarm 5;
    my $line = <$client> // "";
    while (my $header = <$client>) { last if $header =~ /^\r?\n$/; }
    my ($path) = $line =~ m{^GET (\S+)};
    my $body = ($path // "") eq "/health" ? "ok" : ($ENV{GREETING} // "");
    print $client "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " . length($body) . "\r\n\r\n$body";
    alarm 0;
  };
  close $client;
}
`;

/** A plain Node app: answers with whether it got its database's owner URL (it has no migrations step). */
const WEB_APP = `const http = require("node:http");
http
  .createServer((request, response) => {
    if (request.url === "/health") return response.end("ok");
    const url = process.env.ConnectionStrings__appdb ?? "";
    response.end(url.startsWith("postgresql://appdb_owner:") ? "connection string injected" : "none");
  })
  .listen(Number(process.env.PORT), process.env.HOST);
`;

let root: string;
let dir: string;
let env: NodeJS.ProcessEnv;
let hello: string;
let webUrl: string;
const builtImages: string[] = [];
let up = false;
const log: string[] = [];

async function compose(...args: string[]): Promise<string> {
  const { stdout } = await run("docker-compose", args, {
    cwd: dir,
    env,
    timeout: 600_000,
    maxBuffer: 32 * 1024 * 1024,
  });
  return stdout;
}

async function docker(...args: string[]): Promise<string> {
  const { stdout } = await run("docker", args, { timeout: 300_000 });
  return stdout.trim();
}

/** Containers of this project (any state): service name → health status. */
async function healthByService(): Promise<Map<string, string>> {
  const out = await docker(
    "ps",
    "-a",
    "--filter",
    `label=com.docker.compose.project=${project}`,
    "--format",
    '{{.ID}} {{.Label "com.docker.compose.service"}}',
  );
  const health = new Map<string, string>();
  for (const line of out.split("\n").filter(Boolean)) {
    const [id = "", service = ""] = line.split(" ");
    health.set(
      service,
      await docker("inspect", "--format", "{{if .State.Health}}{{.State.Health.Status}}{{end}}", id),
    );
  }
  return health;
}

beforeAll(async () => {
  // PostgreSQL: the official image where present, else the local look-alike (APPHOST_IMAGE_POSTGRES).
  await useAvailableImages();
  root = await fs.mkdtemp(path.join(os.tmpdir(), "publish-user-"));
  dir = path.join(root, "deploy");
  const context = path.join(root, "hello-image");
  await fs.mkdir(context);
  await fs.writeFile(path.join(context, "server.pl"), SERVER);
  await fs.writeFile(
    path.join(context, "Dockerfile"),
    [
      "FROM outbox-apphost/debian:bookworm",
      "COPY server.pl /server.pl",
      "USER 65534:65534",
      "EXPOSE 8080",
      'CMD ["perl", "/server.pl"]',
      "",
    ].join("\n"),
  );
  builtImages.push(IMAGE);
  await docker("build", "--quiet", "--tag", IMAGE, context);

  const base = path.join(root, "node-base");
  await fs.mkdir(base);
  await fs.copyFile(process.execPath, path.join(base, "node"));
  await fs.cp(path.join(path.dirname(process.execPath), "../lib/node_modules/npm"), path.join(base, "npm"), {
    recursive: true,
  });
  await fs.writeFile(
    path.join(base, "Dockerfile"),
    [
      "FROM outbox-apphost/debian:bookworm",
      "COPY node /usr/local/bin/node",
      "COPY npm /usr/local/lib/node_modules/npm",
      "RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm",
      "",
    ].join("\n"),
  );
  builtImages.push(NODE_BASE);
  await docker("build", "--quiet", "--tag", NODE_BASE, base);
  const web = path.join(root, "web-app");
  await fs.mkdir(web);
  await fs.writeFile(
    path.join(web, "package.json"),
    JSON.stringify({ name: "web-app", version: "1.0.0", scripts: { start: "node server.js" } }),
  );
  await fs.writeFile(
    path.join(web, "package-lock.json"),
    JSON.stringify({
      name: "web-app",
      version: "1.0.0",
      lockfileVersion: 3,
      requires: true,
      packages: { "": { name: "web-app", version: "1.0.0" } },
    }),
  );
  await fs.writeFile(path.join(web, "server.js"), WEB_APP);

  const app = createApp({ name: project });
  const db = app.addPostgres("pg").addDatabase("appdb");
  app
    .addContainer("hello", IMAGE)
    .withHttpEndpoint(8080)
    .withHttpHealthCheck("/health")
    .withEnvironment("GREETING", "hello from the published project")
    .waitFor(db);
  app
    .addNodeApp("web", "web-app")
    .withReference(db)
    .waitFor(db)
    .withHttpEndpoint()
    .withHttpHealthCheck("/health");
  app.addExecutable("tool", "python3", ["-m", "http.server"]);
  await publish(app, {
    target: "compose",
    outputDir: dir,
    rootDir: root,
    log: (message) => log.push(message),
    digests: () => Promise.resolve(new Map()),
  });
  const [port, webPort] = [await freePort(), await freePort()];
  env = {
    ...process.env,
    COMPOSE_PROJECT_NAME: project,
    APPHOST_BIND_ADDRESS: "127.0.0.1",
    APPHOST_NODE_BASE: NODE_BASE,
    HELLO_HTTP_PORT: String(port),
    WEB_HTTP_PORT: String(webPort),
  };
  hello = `http://127.0.0.1:${port}`;
  webUrl = `http://127.0.0.1:${webPort}`;
  const webImage = /image: \$\{APPHOST_IMAGE_WEB:-([^}]+)\}/.exec(
    await fs.readFile(path.join(dir, "docker-compose.yaml"), "utf8"),
  )?.[1];
  if (webImage === undefined) throw new Error("no image for web in the published file");
  builtImages.push(webImage);
  await compose("build");
  up = true;
  await compose("up", "-d", "--no-build");
}, 900_000);

afterAll(async () => {
  if (up) await compose("down", "--volumes", "--remove-orphans", "--timeout", "20").catch(() => "");
  for (const image of builtImages.reverse()) await docker("rmi", "--force", image).catch(() => "");
  if (root) await fs.rm(root, { recursive: true, force: true });
}, 300_000);

describe("the published Compose project of a user model", () => {
  it("leaves the executable out, with a line and a comment", async () => {
    expect(log).toContainEqual(
      expect.stringMatching(/^tool: an executable runs on the host; not published — /),
    );
    const file = await fs.readFile(path.join(dir, "docker-compose.yaml"), "utf8");
    expect(file).toMatch(/^# tool: an executable runs on the host; not published — /m);
    expect(Object.keys((parse(file) as { services: object }).services).sort()).toEqual([
      "hello",
      "pg",
      "web",
    ]);
  });

  it("comes up healthy: PostgreSQL, then the container, whose check needs only bash, and the Node app", async () => {
    await eventually(
      "every container of the project to be healthy",
      async () => {
        const health = await healthByService();
        return health.size === 3 && [...health.values()].every((h) => h === "healthy") ? true : undefined;
      },
      300_000,
    );
    const response = await fetch(hello, { signal: AbortSignal.timeout(10_000) });
    expect(await response.text()).toBe("hello from the published project");
    const web = await fetch(webUrl, { signal: AbortSignal.timeout(10_000) });
    expect(await web.text()).toBe("connection string injected");
  });

  it("leaves nothing behind after `docker-compose down --volumes`", async () => {
    await compose("down", "--volumes", "--remove-orphans", "--timeout", "20");
    up = false;
    expect(await healthByService()).toEqual(new Map());
    expect(
      await docker("volume", "ls", "-q", "--filter", `label=com.docker.compose.project=${project}`),
    ).toBe("");
  });
});

describe("the published Kubernetes manifests of a user model", () => {
  it("validate offline against the Kubernetes schemas (strict)", async () => {
    const project = path.join(root, "k8s-project");
    await fs.mkdir(path.join(project, "web-app"), { recursive: true });
    await fs.writeFile(
      path.join(project, "web-app", "package.json"),
      JSON.stringify({ name: "web-app", scripts: { start: "node server.js" } }),
    );
    await fs.writeFile(path.join(project, "web-app", "server.js"), "// the app\n");
    const app = createApp({ name: "shop" });
    const db = app.addPostgres("pg").addDatabase("shopdb");
    const cache = app
      .addContainer("cache", "example/cache:1")
      .withHttpEndpoint(8080)
      .withHttpHealthCheck("/healthz")
      .withVolume("data", "/data");
    app
      .addContainer("logger", "example/logger:1")
      .withEndpoint(514, "tcp", "syslog")
      .withLogReadiness("ready");
    app.addExecutable("tool", "python3");
    app
      .addNodeApp("web", "web-app")
      .withReference(db)
      .withReference(cache)
      .waitFor(db)
      .waitFor(cache)
      .withHttpEndpoint()
      .withHttpHealthCheck("/health");
    const output = path.join(project, "deploy");
    await publish(app, {
      target: "kubernetes",
      outputDir: output,
      rootDir: project,
      log: () => {},
      digests: () => Promise.resolve(new Map()),
    });
    const manifests = (await fs.readdir(output)).filter(
      (f) => f.endsWith(".yaml") && f !== "kustomization.yaml",
    );
    expect(manifests.sort()).toEqual([
      "cache.yaml",
      "logger.yaml",
      "network-policies.yaml",
      "pg.yaml",
      "web.yaml",
    ]);
    const result = await validateManifests(output, manifests);
    const passed = result.stdout.split("\n").filter((l) => l.includes(" passed for resource "));
    // pg: StatefulSet, ConfigMap, Service; cache: StatefulSet, Service; logger: Deployment,
    // Service; web: Deployment, Service; 6 NetworkPolicies (default deny, DNS, one per workload).
    expect(passed).toHaveLength(15);
    expect(result.stdout + result.stderr).not.toMatch(/failed|ERROR/);
    expect(await fs.readFile(path.join(output, "build-images.sh"), "utf8")).toContain(
      "docker build --tag shop/web:src-",
    );
  });
});
