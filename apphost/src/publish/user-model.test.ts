// Publishing a user's model: PostgreSQL, a plain Express-style Node app (no service defaults, no
// migrations, no /alive), containers with HTTP, port and log readiness, and an executable.
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { createApp } from "../model/app-builder.js";
import { COMPOSE_FILE, renderCompose } from "./compose/compose-publisher.js";
import { deployPlan, type ContainerPlan, type DeployPlan, type ServicePlan } from "./deploy-plan.js";
import { BUILD_SCRIPT, KUSTOMIZATION_FILE, renderKubernetes } from "./kubernetes/kubernetes-publisher.js";
import { NODE_APP_DOCKERFILE } from "./node-app-image.js";

let root: string;
let outputDir: string;

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "apphost-user-model-"));
  outputDir = path.join(root, "deploy");
  await fs.mkdir(path.join(root, "web-app"));
  await fs.writeFile(
    path.join(root, "web-app", "package.json"),
    JSON.stringify({
      name: "web-app",
      scripts: { start: "node server.js" },
      dependencies: { express: "^4" },
    }),
  );
  await fs.writeFile(path.join(root, "web-app", "server.js"), "// the app\n");
});

afterEach(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

function userModel() {
  const app = createApp({ name: "shop" });
  const db = app.addPostgres("pg").addDatabase("shopdb");
  const cache = app
    .addContainer("cache", "example/cache:1.2")
    .withHttpEndpoint(8080)
    .withHttpHealthCheck("/healthz")
    .withVolume("data", "/data")
    .withBindMount("cache.conf", "/etc/cache.conf", { readOnly: true })
    .withArgs("--verbose")
    .withEnvironment("MODE", "fast");
  const worker = app.addContainer("worker", "example/worker:3").withEndpoint(9000, "tcp").withPortReadiness();
  const logger = app.addContainer("logger", "example/logger:1").withLogReadiness(/listening/);
  const tool = app.addExecutable("tool", "python3", ["-m", "http.server"]).withHttpEndpoint();
  app
    .addNodeApp("web", "web-app")
    .withReference(db)
    .withReference(cache)
    .withReference(worker)
    .withReference(tool)
    .waitFor(db)
    .waitFor(cache)
    .waitFor(logger)
    .withHttpEndpoint()
    .withHttpHealthCheck("/health");
  return app;
}

function planOf(app = userModel()): DeployPlan {
  return deployPlan(app, { serviceTag: "unused", rootDir: root, appTags: new Map([["web", "src-abc"]]) });
}

const SECRETS = {
  SECRET_PG_PASSWORD: "pgSecret1",
  SECRET_SHOPDB_OWNER_PASSWORD: "ownerSecret2",
  SECRET_SHOPDB_APP_PASSWORD: "appSecret3",
};

function resource<K extends "service" | "container">(plan: DeployPlan, name: string, kind: K) {
  const found = plan.resources.find((r) => r.name === name);
  if (found?.kind !== kind) throw new Error(`no ${kind} ${name}`);
  return found as K extends "service" ? ServicePlan : ContainerPlan;
}

describe("the deploy plan of a user model", () => {
  it("publishes the app and the containers, leaves the executable out with a reason", () => {
    const plan = planOf();
    expect(plan.resources.map((r) => `${r.kind}:${r.name}`)).toEqual([
      "postgres:pg",
      "container:cache",
      "container:worker",
      "container:logger",
      "service:web",
    ]);
    expect(plan.excluded).toEqual([
      {
        name: "tool",
        reason: expect.stringMatching(/^an executable runs on the host; not published — /) as unknown,
      },
    ]);
    expect(plan.notes.join("\n")).toContain('web: references the executable "tool", which is not published');
    // Only the database's passwords: a plain app has no admin token.
    expect(plan.secrets.map((s) => s.name).sort()).toEqual(Object.keys(SECRETS).sort());
  });

  it("gives a plain Node app its model's health check only: no migrations, no /alive, no service-defaults variables", () => {
    const web = resource(planOf(), "web", "service");
    expect(web.migrations).toBeUndefined();
    expect(web.readinessPath).toBe("/health");
    expect(web.livenessPath).toBeUndefined();
    expect(web.image.image).toBe("shop/web:src-abc");
    expect(web.build).toEqual({
      contextDir: path.join(root, "web-app"),
      dockerfile: "generic",
      command: ["node", "server.js"],
    });
    const env = Object.fromEntries(web.environment.map((e) => [e.name, e.value]));
    // No migrations step: the app creates its own tables, as it does under `apphost` (the owner).
    expect(env.ConnectionStrings__shopdb).toEqual([
      "postgresql://shopdb_owner:",
      { secret: "SECRET_SHOPDB_OWNER_PASSWORD" },
      "@pg:5432/shopdb",
    ]);
    expect(env.services__cache__http__0).toEqual(["http://cache:8080"]);
    expect(env.services__worker__tcp__0).toEqual(["tcp://worker:9000"]);
    expect(env.PORT).toEqual(["8080"]);
    expect(Object.keys(env).filter((k) => /ADMIN_TOKEN|ALLOWED_HOSTS|^services__tool/.test(k))).toEqual([]);
  });

  it("gives an app that asks for the runtime role that role, as the runtime does", () => {
    const app = createApp({ name: "shop" });
    const db = app.addPostgres("pg").addDatabase("shopdb");
    app.addNodeApp("web", "web-app").withReference(db, { role: "runtime" }).withHttpEndpoint();
    const env = Object.fromEntries(
      resource(planOf(app), "web", "service").environment.map((e) => [e.name, e.value]),
    );
    expect(env.ConnectionStrings__shopdb).toEqual([
      "postgresql://shopdb_app:",
      { secret: "SECRET_SHOPDB_APP_PASSWORD" },
      "@pg:5432/shopdb",
    ]);
  });

  it("uses the app's own Dockerfile when its folder has one, with its own command", async () => {
    await fs.writeFile(path.join(root, "web-app", "Dockerfile"), "FROM scratch\n");
    expect(resource(planOf(), "web", "service").build).toEqual({
      contextDir: path.join(root, "web-app"),
      dockerfile: "own",
      command: undefined,
    });
  });

  it("takes an npm script's command from the model", () => {
    const app = createApp({ name: "shop" });
    app.addNpmScript("web", "web-app", "start").withHttpEndpoint();
    expect(resource(planOf(app), "web", "service").build?.command).toEqual([
      "npm",
      "run",
      "--silent",
      "start",
    ]);
  });

  it("maps each container's readiness to a health check: HTTP path, TCP port, none for a log line", () => {
    const plan = planOf();
    expect(resource(plan, "cache", "container").health).toEqual({
      kind: "http",
      path: "/healthz",
      port: 8080,
    });
    expect(resource(plan, "worker", "container").health).toEqual({ kind: "tcp", port: 9000 });
    expect(resource(plan, "logger", "container").health).toMatchObject({
      kind: "none",
      reason: expect.stringContaining("/listening/") as unknown,
    });
  });

  it("resolves a container's own references like an app's, once the model gives containers references", () => {
    const app = createApp({ name: "shop" });
    const db = app.addPostgres("pg").addDatabase("shopdb");
    const web = app.addContainer("web", "example/web:1").withHttpEndpoint(80);
    // The shape a container's withReference gives it (added to the model by another change).
    Object.assign(web, { references: [db] });
    const plan = resource(planOf(app), "web", "container");
    expect(plan.environment.find((e) => e.name === "ConnectionStrings__shopdb")?.value).toEqual([
      "postgresql://shopdb_app:",
      { secret: "SECRET_SHOPDB_APP_PASSWORD" },
      "@pg:5432/shopdb",
    ]);
    expect(plan.connects).toEqual([{ resource: "pg", port: 5432 }]);
  });

  it("refuses a container health check path a shell would read as syntax", () => {
    const app = createApp({ name: "shop" });
    app.addContainer("web", "example/web:1").withHttpEndpoint(80).withHttpHealthCheck('/x"; rm -rf /');
    expect(() => planOf(app)).toThrow(/Cannot publish the health check path of "web"/);
  });

  it("keeps a repository service's liveness path only when its model names one", () => {
    const app = createApp({ name: "shop" });
    app.addNodeService("svc", "svc").withHttpEndpoint().withHttpHealthCheck("/health");
    expect(resource(planOf(app), "svc", "service").livenessPath).toBeUndefined();
    (app.resource("svc") as ReturnType<typeof app.addNodeService>).withLivenessCheck("/alive");
    expect(resource(planOf(app), "svc", "service").livenessPath).toBe("/alive");
    expect(() => app.addNodeApp("x", "web-app").withLivenessCheck("alive")).toThrow(/must start with '\/'/);
  });
});

interface ComposeService {
  image: string;
  build?: { context: string; dockerfile?: string; args?: Record<string, string> };
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  security_opt?: string[];
}

describe("Compose output of a user model", () => {
  function render(plan = planOf()) {
    const files = renderCompose(plan, SECRETS, { outputDir });
    const yaml = files.get(COMPOSE_FILE) ?? "";
    return { files, yaml, services: (parse(yaml) as { services: Record<string, ComposeService> }).services };
  }

  it("builds the Node app from its folder with the generic Dockerfile written into the output", () => {
    const { files, yaml, services } = render();
    expect(Object.keys(services).sort()).toEqual(["cache", "logger", "pg", "web", "worker"]);
    expect(services.web?.build).toEqual({
      context: "../web-app",
      dockerfile: "../deploy/images/node-app.Dockerfile",
      args: { BASE: "${APPHOST_NODE_BASE:-node:20-slim}" },
    });
    expect(services.web?.image).toBe("${APPHOST_IMAGE_WEB:-shop/web:src-abc}");
    expect(services.web?.command).toEqual(["node", "server.js"]);
    expect(services.web?.healthcheck?.test.join(" ")).toContain("http://127.0.0.1:8080/health");
    expect(files.get(NODE_APP_DOCKERFILE)).toContain("npm ci --omit=dev");
    expect(yaml).not.toContain("/alive");
    expect(yaml).not.toContain("migrate");
    // A dependency without a health check is waited for until it has started.
    expect(services.web?.depends_on).toEqual({
      pg: { condition: "service_healthy" },
      cache: { condition: "service_healthy" },
      logger: { condition: "service_started" },
    });
  });

  it("runs containers with their image, arguments, environment, named volumes and HTTP ports", () => {
    const { services, yaml } = render();
    expect(services.cache).toMatchObject({
      image: "${APPHOST_IMAGE_CACHE:-example/cache:1.2}",
      command: ["--verbose"],
      environment: { MODE: "fast" },
      // The bind mount's source relative to the output directory, as Compose reads it.
      volumes: ["cache-data:/data", "../cache.conf:/etc/cache.conf:ro"],
      ports: [
        "${APPHOST_BIND_ADDRESS:-127.0.0.1}:${CACHE_HTTP_PORT:?CACHE_HTTP_PORT is not set: see .env}:8080",
      ],
      security_opt: ["no-new-privileges:true"],
    });
    expect(services.cache?.healthcheck?.test[0]).toBe("CMD-SHELL");
    expect(services.cache?.healthcheck?.test[1]).toContain("/dev/tcp/127.0.0.1/8080");
    expect(services.cache?.healthcheck?.test[1]).toContain("GET /healthz HTTP/1.0");
    expect(services.worker?.healthcheck?.test[1]).toContain("/dev/tcp/127.0.0.1/9000");
    // A TCP endpoint stays inside the project's network.
    expect(services.worker?.ports).toBeUndefined();
    expect(services.logger?.healthcheck).toBeUndefined();
    expect(yaml).toMatch(/^# logger: no health check \(ready when its log shows \/listening\//m);
    expect(yaml).toMatch(/^# tool: an executable runs on the host; not published — /m);
    expect(yaml).not.toMatch(/^ {2}tool:/m);
  });

  it("builds an addDockerfile container from its context, Dockerfile and build arguments", () => {
    const app = userModel();
    app
      .addDockerfile("api", "api-image", {
        dockerfile: "docker/Dockerfile.prod",
        buildArgs: { VERSION: "2" },
      })
      .withHttpEndpoint(8080);
    app.addDockerfile("plain", "plain-image");
    const plan = deployPlan(app, {
      serviceTag: "unused",
      rootDir: root,
      appTags: new Map([
        ["web", "src-abc"],
        ["api", "src-def"],
      ]),
    });
    const api = resource(plan, "api", "container");
    expect(api.image.image).toBe("shop/api:src-def");
    expect(api.build).toEqual({
      contextDir: path.join(root, "api-image"),
      dockerfile: path.normalize("docker/Dockerfile.prod"),
      args: { VERSION: "2" },
    });
    const services = render(plan).services;
    expect(services.api?.build).toEqual({
      context: "../api-image",
      dockerfile: "docker/Dockerfile.prod",
      args: { VERSION: "2" },
    });
    expect(services.plain?.build).toEqual({ context: "../plain-image" });
    const script = renderKubernetes(plan, SECRETS, { outputDir }).get("build-images.sh") ?? "";
    expect(script).toContain(
      'docker build --tag shop/api:src-def --file "../api-image/docker/Dockerfile.prod" --build-arg "VERSION=2" "../api-image"',
    );
    expect(script).toContain('docker build --tag shop/plain:latest "../plain-image"');
  });
});

interface Manifest {
  kind: string;
  metadata: { name: string };
  spec: {
    template?: {
      spec: {
        containers: Array<{
          command?: string[];
          args?: string[];
          readinessProbe?: unknown;
          livenessProbe?: unknown;
          startupProbe?: unknown;
        }>;
        initContainers?: Array<{ name: string; command: string[] }>;
      };
    };
    volumeClaimTemplates?: Array<{ metadata: { name: string } }>;
  };
}

describe("Kubernetes output of a user model", () => {
  function render() {
    const files = renderKubernetes(planOf(), SECRETS, { outputDir });
    const manifests = (file: string) =>
      parseAllDocuments(files.get(file) ?? "").map((d) => d.toJS() as Manifest);
    return { files, manifests };
  }

  it("probes the Node app only where its model says, and runs its start command", () => {
    const { files, manifests } = render();
    const [web] = manifests("web.yaml").filter((m) => m.kind === "Deployment");
    const pod = web?.spec.template?.spec;
    const container = pod?.containers[0];
    expect(container?.command).toEqual(["node", "server.js"]);
    expect(container?.readinessProbe).toMatchObject({ httpGet: { path: "/health", port: "http" } });
    expect(container?.livenessProbe).toBeUndefined();
    expect(container?.startupProbe).toBeUndefined();
    // The logger listens on nothing: there is nothing to wait for.
    expect(pod?.initContainers?.map((c) => c.name)).toEqual(["wait-for-pg", "wait-for-cache"]);
    expect(pod?.initContainers?.[1]?.command.slice(-3)).toEqual(["cache", "8080", "/healthz"]);
    for (const [name, content] of files) expect(content, name).not.toContain("/alive");
    expect(files.get("web.yaml")).toContain("# no liveness probe: the model has no liveness check");
  });

  it("runs containers with readiness probes from the model, a claim per named volume, and says what it left out", () => {
    const { files, manifests } = render();
    const [cache] = manifests("cache.yaml").filter((m) => m.kind === "StatefulSet");
    expect(cache?.spec.volumeClaimTemplates?.map((c) => c.metadata.name)).toEqual(["data"]);
    expect(cache?.spec.template?.spec.containers[0]).toMatchObject({
      args: ["--verbose"],
      readinessProbe: { httpGet: { path: "/healthz", port: 8080 } },
    });
    const [worker] = manifests("worker.yaml").filter((m) => m.kind === "Deployment");
    expect(worker?.spec.template?.spec.containers[0]?.readinessProbe).toMatchObject({
      tcpSocket: { port: 9000 },
    });
    const [logger] = manifests("logger.yaml").filter((m) => m.kind === "Deployment");
    expect(logger?.spec.template?.spec.containers[0]?.readinessProbe).toBeUndefined();
    expect(files.get("logger.yaml")).toMatch(/^# no probe: ready when its log shows/m);
    expect(files.get("cache.yaml")).toContain(
      `# the host path ${path.join(root, "cache.conf")} (mounted at /etc/cache.conf`,
    );
    expect(files.has("tool.yaml")).toBe(false);
    expect(files.get(KUSTOMIZATION_FILE)).toMatch(
      /^# tool: an executable runs on the host; not published — /m,
    );
    expect(files.get(BUILD_SCRIPT)).toContain(
      `docker build --tag shop/web:src-abc --file ${NODE_APP_DOCKERFILE} --build-arg BASE="\${APPHOST_NODE_BASE:-node:20-slim}" "../web-app"`,
    );
  });
});
