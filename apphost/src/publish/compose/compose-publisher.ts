// The deploy plan as a Docker Compose project (compose-spec, runs with docker-compose 1.29 and
// `docker compose` v2): one service per resource, healthchecks for every one of them,
// `depends_on: condition: service_healthy` from waitFor, named volumes, only the services' HTTP
// ports published, and every secret in `.env` (referenced as ${NAME}, never written in the YAML).
// Every container runs as a non-root user with no capabilities, no-new-privileges, a read-only
// root filesystem (tmpfs where the process writes) and memory and pids limits; a service's
// migrations run in a one-shot `<service>-migrate` container, the only one with the database
// owner's credentials. A plain Node app is built by Compose (`build:`) from its folder; an
// `addContainer` runs its image as the image wants (its own user and filesystem), with only
// no-new-privileges added, and a health check from the model's readiness that needs a shell in the
// image (curl, wget, or bash's /dev/tcp). Executables are not published (a comment says so).

import path from "node:path";
import { stringify } from "yaml";
import {
  ARTEMIS_CONFIG_DIR,
  ARTEMIS_USER,
  ARTEMIS_USERS_FILE,
  brokerCheckScript,
  brokerUsersFile,
  KAFKA_DATA_DIR,
  KAFKA_HEAP_OPTS,
  KAFKA_PORT,
  POSTGRES_USER,
  renderTemplate,
  type ArtemisPlan,
  type ContainerPlan,
  type DeployPlan,
  type KafkaPlan,
  type PostgresPlan,
  type ResourcePlan,
  type ServicePlan,
} from "../deploy-plan.js";
import { kafkaHealthScript } from "../kafka-health.js";
import { envPrefix } from "../../model/resource.js";
import { topicsScript } from "../../kafka/topics-script.js";
import {
  NODE_APP_BASE,
  NODE_APP_BASE_VARIABLE,
  NODE_APP_DOCKERFILE,
  NODE_APP_DOCKERFILE_TEXT,
} from "../node-app-image.js";

export const COMPOSE_FILE = "docker-compose.yaml";
export const ENV_FILE = ".env";
/** The databases-and-roles script, run by the PostgreSQL image when it initialises the volume. */
export const INIT_SCRIPT = "10-databases-and-roles.sh";

/** Non-secret settings in `.env`: what a deployment changes without regenerating the YAML. */
export interface ComposeSettings {
  /** Where the services' HTTP ports are published (default 127.0.0.1: nothing is exposed by accident). */
  bindAddress: string;
  /**
   * Host port variable → default port: one per single-replica service's HTTP port and per HTTP(S)
   * endpoint of a container; replicated services get ports chosen by the engine.
   */
  hostPorts: Record<string, number>;
}

/** Where the output is written: the build contexts of Node apps are relative to it. */
export interface ComposeLayout {
  outputDir: string;
}

/** Container limits per kind (sized for these services; the Kubernetes limits agree). */
export const COMPOSE_LIMITS = {
  postgres: { mem_limit: "1g", pids_limit: 512 },
  // The JVM's heap is capped at ARTEMIS_HEAP (1g); threads count as pids.
  artemis: { mem_limit: "2g", pids_limit: 1024 },
  // The JVM's heap is capped at 1g (KAFKA_HEAP_OPTS); the rest is for the page cache and threads.
  kafka: { mem_limit: "2g", pids_limit: 1024 },
  // One short-lived JVM at a time (kafka-topics.sh, 128m heap).
  "kafka-topics": { mem_limit: "384m", pids_limit: 256 },
  service: { mem_limit: "512m", pids_limit: 256 },
  migrate: { mem_limit: "256m", pids_limit: 128 },
} as const;

/** The official PostgreSQL image's `postgres` user (the look-alike keeps the ids). */
export const POSTGRES_UID = 999;

/** What every container gets: no capabilities, no setuid gains, a read-only root filesystem. */
function hardening(kind: keyof typeof COMPOSE_LIMITS, tmpfs: string[] = ["/tmp"]): Record<string, unknown> {
  return {
    cap_drop: ["ALL"],
    security_opt: ["no-new-privileges:true"],
    read_only: true,
    tmpfs,
    ...COMPOSE_LIMITS[kind],
  };
}

/** What the publisher writes: relative path → content. */
export type PublishedFiles = Map<string, string>;

/** Renders the Compose project. `secretValues` are only written to `.env`. */
export function renderCompose(
  plan: DeployPlan,
  secretValues: Record<string, string>,
  layout?: ComposeLayout,
): PublishedFiles {
  const files: PublishedFiles = new Map();
  const services: Record<string, unknown> = {};
  const volumes: Record<string, Record<string, never>> = {};
  const settings = defaultSettings(plan);
  const byName = new Map(plan.resources.map((r) => [r.name, r]));
  const notes: string[] = plan.excluded.map((e) => `${e.name}: ${e.reason}`);

  for (const resource of plan.resources) {
    if (resource.kind === "postgres") {
      volumes[`${resource.name}-data`] = {};
      services[resource.name] = postgresService(resource);
      files.set(`postgres/${resource.name}/${INIT_SCRIPT}`, resource.initScript);
    } else if (resource.kind === "artemis") {
      volumes[`${resource.name}-data`] = {};
      services[resource.name] = artemisService(resource);
      for (const [name, content] of resource.configFiles)
        files.set(`artemis/${resource.name}/${name}`, content);
      // Hashed passwords, readable by the broker's own user in the container.
      files.set(
        `artemis/${resource.name}/${ARTEMIS_USERS_FILE}`,
        brokerUsersFile(resource, (name) => secretValue(secretValues, name)),
      );
    } else if (resource.kind === "kafka") {
      volumes[`${resource.name}-data`] = {};
      services[resource.name] = kafkaService(resource);
      services[kafkaTopicsServiceName(resource)] = kafkaTopicsService(resource);
    } else if (resource.kind === "container") {
      for (const volume of resource.volumes) volumes[containerVolumeName(resource, volume.name)] = {};
      services[resource.name] = containerService(resource, byName, layout);
      if (resource.health.kind === "none")
        notes.push(
          `${resource.name}: no health check (${resource.health.reason}); services waiting for it wait until it has started`,
        );
    } else {
      if (resource.migrations) services[migrateServiceName(resource)] = migrateService(resource);
      services[resource.name] = nodeService(resource, byName, layout);
      if (resource.build?.dockerfile === "generic") files.set(NODE_APP_DOCKERFILE, NODE_APP_DOCKERFILE_TEXT);
      if (resource.port !== undefined && healthPath(resource) === undefined)
        notes.push(
          `${resource.name}: no health check in the model (withHttpHealthCheck); services waiting for it wait until it has started`,
        );
    }
  }

  const header = [
    `# Generated by the Outbox AppHost from the application model "${plan.app}".`,
    "# Regenerate with: apphost publish --target compose --output <dir>",
    "# Secrets and settings are in .env next to this file (never in this file).",
    ...(plan.resources.some((r) => r.kind === "service" && r.build !== undefined)
      ? ["# Node apps are built by Compose from their folders: docker-compose build (or up --build)."]
      : []),
    ...notes.map((note) => `# ${note}`),
    "",
  ].join("\n");
  // No top-level `name:` (docker-compose 1.29 refuses it): COMPOSE_PROJECT_NAME in .env names the project.
  files.set(COMPOSE_FILE, header + stringify({ services, volumes }, { lineWidth: 0 }));
  files.set(ENV_FILE, renderEnv(plan, secretValues, settings));
  return files;
}

function defaultSettings(plan: DeployPlan): ComposeSettings {
  const hostPorts: Record<string, number> = {};
  let next = 8080;
  for (const r of plan.resources) {
    if (r.kind === "service" && r.port !== undefined && r.replicas === 1)
      hostPorts[servicePortVariable(r)] = next++;
    if (r.kind === "container")
      for (const endpoint of publishedEndpoints(r))
        hostPorts[endpointPortVariable(r, endpoint.name)] = next++;
  }
  return { bindAddress: "127.0.0.1", hostPorts };
}

function servicePortVariable(service: ServicePlan): string {
  return `${envPrefix(service.name)}_HTTP_PORT`;
}

function endpointPortVariable(container: ContainerPlan, endpoint: string): string {
  return `${envPrefix(container.name)}_${envPrefix(endpoint)}_PORT`;
}

/** A container's HTTP(S) endpoints are published on the host, like the services' HTTP ports; others stay inside. */
function publishedEndpoints(container: ContainerPlan): ContainerPlan["endpoints"] {
  return container.endpoints.filter((e) => e.scheme === "http" || e.scheme === "https");
}

/** The path a Node app's health check asks: readiness, else liveness; none unless the model names one. */
function healthPath(service: ServicePlan): string | undefined {
  return service.readinessPath ?? service.livenessPath;
}

/** Whether Compose can tell the resource is healthy (else dependents wait for it to have started). */
function hasHealthcheck(resource: ResourcePlan): boolean {
  if (resource.kind === "container") return resource.health.kind !== "none";
  if (resource.kind === "service") return resource.port !== undefined && healthPath(resource) !== undefined;
  return true;
}

function dependsOn(
  resource: ResourcePlan,
  byName?: ReadonlyMap<string, ResourcePlan>,
): Record<string, { condition: string }> | undefined {
  if (resource.dependsOn.length === 0) return undefined;
  return Object.fromEntries(
    resource.dependsOn.flatMap((d) => {
      const dependency = byName?.get(d);
      const healthy = dependency === undefined || hasHealthcheck(dependency);
      const wait: Array<[string, { condition: string }]> = [
        [d, { condition: healthy ? "service_healthy" : "service_started" }],
      ];
      // Kafka's dependents also wait for its topics: a consumer of a missing topic fails to start.
      if (dependency?.kind === "kafka")
        wait.push([kafkaTopicsServiceName(dependency), { condition: "service_completed_successfully" }]);
      return wait;
    }),
  );
}

export function migrateServiceName(service: ServicePlan): string {
  return `${service.name}-migrate`;
}

function postgresService(pg: PostgresPlan): Record<string, unknown> {
  const [first] = pg.databases;
  const command =
    pg.settings.length > 0
      ? ["postgres", ...pg.settings.flatMap(([k, v]) => ["-c", `${k}=${v}`])]
      : undefined;
  const volumes = [
    `${pg.name}-data:/var/lib/postgresql/data`,
    `./postgres/${pg.name}/${INIT_SCRIPT}:/docker-entrypoint-initdb.d/${INIT_SCRIPT}:ro`,
  ];
  return strip({
    image: `\${${pg.image.variable}:-${pg.image.image}}`,
    restart: "unless-stopped",
    // The image's own user from the start: its entry point then needs no root, no chown and no
    // switch of user (it supports any uid that owns the data directory, which the image's volume
    // directory is, for 999).
    user: `${POSTGRES_UID}:${POSTGRES_UID}`,
    ...hardening("postgres", [
      "/tmp",
      `/var/run/postgresql:uid=${POSTGRES_UID},gid=${POSTGRES_UID},mode=3775`,
    ]),
    environment: {
      POSTGRES_USER,
      POSTGRES_PASSWORD: required(pg.passwordSecret),
      POSTGRES_DB: first ?? "postgres",
      // The roles' passwords, for the init script.
      ...Object.fromEntries(pg.initSecrets.map((name) => [name, required(name)])),
    },
    command,
    volumes,
    healthcheck: {
      // Over TCP: during first-start initialisation the image runs a socket-only server, which
      // must not count as ready.
      test: ["CMD", "pg_isready", "-h", "127.0.0.1", "-U", POSTGRES_USER, "-d", first ?? "postgres"],
      interval: "5s",
      timeout: "5s",
      retries: 10,
      start_period: "30s",
    },
    depends_on: dependsOn(pg),
  });
}

/** `${NAME}`, refusing to start when .env lacks it. */
function required(secret: string): string {
  return `\${${secret}:?${secret} is not set: see .env}`;
}

function artemisService(broker: ArtemisPlan): Record<string, unknown> {
  const volumes = [`${broker.name}-data:/var/lib/artemis-instance`];
  for (const name of [...broker.configFiles.keys(), ARTEMIS_USERS_FILE])
    volumes.push(`./artemis/${broker.name}/${name}:${ARTEMIS_CONFIG_DIR}/${name}:ro`);
  return strip({
    image: `\${${broker.image.variable}:-${broker.image.image}}`,
    restart: "unless-stopped",
    // The image runs as its own user (artemis, uid 1001); the instance lives on the volume.
    ...hardening("artemis"),
    environment: {
      ARTEMIS_USER,
      ARTEMIS_PASSWORD: `\${${broker.passwordSecret}:?${broker.passwordSecret} is not set: see .env}`,
      ANONYMOUS_LOGIN: "false",
      // No web console in a deployment; no disk benchmark at creation.
      EXTRA_ARGS: "--no-web --no-autotune",
      ...Object.fromEntries(broker.environment.map((e) => [e.name, e.value])),
    },
    // broker.properties is applied on every start (the instance's etc/ is created once, on the volume).
    command: ["run", "--properties", `${ARTEMIS_CONFIG_DIR}/broker.properties`],
    volumes,
    healthcheck: {
      // Logs in and asks the broker whether it is up: readiness, not just an open port. The
      // password goes through a pipe, never on a command line (brokerCheckScript).
      test: ["CMD-SHELL", brokerCheckScript("$$")],
      interval: "10s",
      timeout: "60s",
      retries: 12,
      start_period: "120s",
    },
    depends_on: dependsOn(broker),
  });
}

export function kafkaTopicsServiceName(kafka: KafkaPlan): string {
  return `${kafka.name}-topics`;
}

function kafkaService(kafka: KafkaPlan): Record<string, unknown> {
  return strip({
    image: `\${${kafka.image.variable}:-${kafka.image.image}}`,
    restart: "unless-stopped",
    // The image's own user (appuser, uid 1000) and hardening, but a writable root filesystem: the
    // image writes its server.properties from the KAFKA_* variables into /opt/kafka/config at every
    // start, beside the distribution's own files there (a tmpfs would hide those).
    cap_drop: ["ALL"],
    security_opt: ["no-new-privileges:true"],
    ...COMPOSE_LIMITS.kafka,
    environment: {
      ...Object.fromEntries(kafka.environment.map((e) => [e.name, e.value])),
      // Clients in the project reach the broker by its service name.
      KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://${kafka.name}:${KAFKA_PORT}`,
      CLUSTER_ID: kafka.clusterId,
      KAFKA_HEAP_OPTS,
    },
    volumes: [`${kafka.name}-data:${KAFKA_DATA_DIR}`],
    healthcheck: {
      // The broker answers a request (API versions, through its advertised listener): readiness,
      // not just an open port. A JVM starts for each check: not too often.
      test: ["CMD-SHELL", kafkaHealthScript()],
      interval: "15s",
      timeout: "60s",
      retries: 10,
      start_period: "120s",
    },
    depends_on: dependsOn(kafka),
    // A clean shutdown (SIGTERM) spares the next start a log recovery.
    stop_grace_period: "30s",
  });
}

/** Creates the model's topics once the broker is healthy, with the image's own tools, and exits. */
function kafkaTopicsService(kafka: KafkaPlan): Record<string, unknown> {
  const script = topicsScript({
    broker: kafka.name,
    bootstrap: `${kafka.name}:${KAFKA_PORT}`,
    topics: kafka.topics,
    attempts: 30,
  });
  return {
    image: `\${${kafka.image.variable}:-${kafka.image.image}}`,
    // One-shot, with Compose's default restart policy ("no"): dependents wait for it to exit 0
    // (service_completed_successfully).
    ...hardening("kafka-topics"),
    entrypoint: ["/bin/sh", "-c"],
    // "$$": Compose would interpolate a single "$".
    command: [script.replaceAll("$", () => "$$")],
    depends_on: { [kafka.name]: { condition: "service_healthy" } },
  };
}

function composeEnvironment(environment: ServicePlan["environment"]): Record<string, string> {
  return Object.fromEntries(environment.map(({ name, value }) => [name, renderTemplate(value, required)]));
}

/** Applies the service's migrations once, with the owner's credentials, and exits. */
function migrateService(service: ServicePlan): Record<string, unknown> {
  const migrations = service.migrations;
  if (!migrations) throw new Error(`"${service.name}" has no migrations step`);
  return {
    image: `\${${service.image.variable}:-${service.image.image}}`,
    // One-shot, with Compose's default restart policy ("no": not written, since docker-compose 1.29
    // reads YAML 1.1, where a bare no is a boolean): a failure keeps the service from starting
    // (service_completed_successfully).
    ...hardening("migrate"),
    entrypoint: ["node"],
    command: [migrations.entryPoint],
    environment: composeEnvironment(migrations.environment),
    depends_on: Object.fromEntries(migrations.dependsOn.map((d) => [d, { condition: "service_healthy" }])),
  };
}

function nodeService(
  service: ServicePlan,
  byName: ReadonlyMap<string, ResourcePlan>,
  layout: ComposeLayout | undefined,
): Record<string, unknown> {
  const environment = composeEnvironment(service.environment);
  const port = service.port;
  const hostPort = servicePortVariable(service);
  const ports =
    port === undefined
      ? undefined
      : service.replicas > 1
        ? // Several containers cannot share one host port: the engine picks one per replica
          // (`docker-compose port --index=N <service> ${port}` tells which).
          [`\${APPHOST_BIND_ADDRESS:-127.0.0.1}::${port}`]
        : [`\${APPHOST_BIND_ADDRESS:-127.0.0.1}:\${${hostPort}:?${hostPort} is not set: see .env}:${port}`];
  const probePath = healthPath(service);
  const waits = dependsOn(service, byName) ?? {};
  if (service.migrations)
    waits[migrateServiceName(service)] = { condition: "service_completed_successfully" };
  const build = service.build;
  return strip({
    image: `\${${service.image.variable}:-${service.image.image}}`,
    build:
      build === undefined
        ? undefined
        : {
            context: relativeTo(layout, service.name, build.contextDir),
            ...(build.dockerfile === "generic"
              ? {
                  // Outside the context: docker-compose sends it along with the context.
                  dockerfile: path.relative(
                    build.contextDir,
                    path.join(requireLayout(layout, service.name).outputDir, NODE_APP_DOCKERFILE),
                  ),
                  args: { BASE: `\${${NODE_APP_BASE_VARIABLE}:-${NODE_APP_BASE}}` },
                }
              : {}),
          },
    command: build?.command,
    restart: "unless-stopped",
    // The image's user (10001); the service writes nothing but /tmp.
    ...hardening("service"),
    environment,
    ports,
    deploy: { replicas: service.replicas },
    healthcheck:
      port === undefined || probePath === undefined
        ? undefined
        : {
            // The image has node and nothing else: fetch is its HTTP client.
            test: [
              "CMD",
              "node",
              "-e",
              `fetch("http://127.0.0.1:${port}${probePath}").then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`,
            ],
            interval: "5s",
            timeout: "5s",
            retries: 10,
            start_period: "60s",
          },
    depends_on: Object.keys(waits).length > 0 ? waits : undefined,
    // SIGTERM, then the service drains (service-defaults' graceful shutdown) before Compose kills it.
    stop_grace_period: "30s",
  });
}

function requireLayout(layout: ComposeLayout | undefined, name: string): ComposeLayout {
  if (layout === undefined)
    throw new Error(`"${name}" is built from a folder: the output directory is needed`);
  return layout;
}

/** A host path as the Compose file names it: relative to the file's directory. */
function relativeTo(layout: ComposeLayout | undefined, name: string, dir: string): string {
  const relative = path.relative(requireLayout(layout, name).outputDir, dir) || ".";
  return relative.startsWith(".") ? relative : `./${relative}`;
}

export function containerVolumeName(container: ContainerPlan, volume: string): string {
  return `${container.name}-${volume}`;
}

/**
 * The health check of a container from the model: the image is not ours, so the command tries
 * what images usually have (curl, wget, then bash's /dev/tcp); an image with none of them needs
 * its own healthcheck (a Compose override file). No "$": Compose would interpolate it.
 */
export function containerHealthcheck(container: ContainerPlan): Record<string, unknown> | undefined {
  const health = container.health;
  if (health.kind === "none") return undefined;
  let script: string;
  if (health.kind === "http") {
    const url = `http://127.0.0.1:${health.port}${health.path}`;
    const request = `GET ${health.path} HTTP/1.0\\r\\nHost: 127.0.0.1\\r\\n\\r\\n`;
    script =
      `curl -fsS -o /dev/null "${url}" 2>/dev/null || wget -q -O /dev/null "${url}" 2>/dev/null || ` +
      `bash -c 'exec 3<>/dev/tcp/127.0.0.1/${health.port} && printf "${request}" >&3 && head -n 1 <&3 | grep -q " 2[0-9][0-9] "'`;
  } else {
    script = `nc -z 127.0.0.1 ${health.port} 2>/dev/null || bash -c 'exec 3<>/dev/tcp/127.0.0.1/${health.port}'`;
  }
  return { test: ["CMD-SHELL", script], interval: "5s", timeout: "5s", retries: 10, start_period: "30s" };
}

function containerService(
  container: ContainerPlan,
  byName: ReadonlyMap<string, ResourcePlan>,
  layout: ComposeLayout | undefined,
): Record<string, unknown> {
  const ports = publishedEndpoints(container).map((endpoint) => {
    const variable = endpointPortVariable(container, endpoint.name);
    return `\${APPHOST_BIND_ADDRESS:-127.0.0.1}:\${${variable}:?${variable} is not set: see .env}:${endpoint.targetPort}`;
  });
  const volumes = [
    ...container.volumes.map((v) => `${containerVolumeName(container, v.name)}:${v.target}`),
    ...container.bindMounts.map(
      (b) => `${relativeTo(layout, container.name, b.source)}:${b.target}${b.readOnly ? ":ro" : ""}`,
    ),
  ];
  return strip({
    image: `\${${container.image.variable}:-${container.image.image}}`,
    build:
      container.build === undefined
        ? undefined
        : {
            context: relativeTo(layout, container.name, container.build.contextDir),
            dockerfile: container.build.dockerfile === "Dockerfile" ? undefined : container.build.dockerfile,
            args: Object.keys(container.build.args).length > 0 ? { ...container.build.args } : undefined,
          },
    restart: "unless-stopped",
    // The image's own user and filesystem: only privilege gains are refused (an image may need root
    // or a writable filesystem; harden it further in an override file when it does not).
    security_opt: ["no-new-privileges:true"],
    command: container.args,
    environment: container.environment.length > 0 ? composeEnvironment(container.environment) : undefined,
    ports: ports.length > 0 ? ports : undefined,
    volumes: volumes.length > 0 ? volumes : undefined,
    healthcheck: containerHealthcheck(container),
    depends_on: dependsOn(container, byName),
  });
}

function renderEnv(
  plan: DeployPlan,
  secretValues: Record<string, string>,
  settings: ComposeSettings,
): string {
  const lines = [
    `# Settings and SECRETS of the Compose project "${plan.app}". Keep this file out of version control.`,
    "# Generated once; publishing again keeps the values below (the volumes were initialised with them).",
    "",
    `COMPOSE_PROJECT_NAME=${plan.app}`,
    "",
    "# Where the services' HTTP ports are published. 0.0.0.0 exposes them to the network.",
    `APPHOST_BIND_ADDRESS=${settings.bindAddress}`,
  ];
  for (const [variable, port] of Object.entries(settings.hostPorts)) lines.push(`${variable}=${port}`);
  lines.push(
    "",
    "# Images (defaults: the official images, pinned by digest where it was known at publish time,",
    "# and the ones `npm run images:services` builds, tagged from their sources)",
  );
  const images = new Map(plan.resources.map((r) => [r.image.variable, r.image]));
  for (const [variable, image] of images)
    lines.push(
      `# ${variable}=${image.image}${image.pinned ? "" : "   (no digest known: pinned by tag only)"}`,
    );
  if (plan.resources.some((r) => r.kind === "service" && r.build?.dockerfile === "generic"))
    lines.push(
      `# The base of the Node apps' generic image (${NODE_APP_DOCKERFILE})`,
      `# ${NODE_APP_BASE_VARIABLE}=${NODE_APP_BASE}`,
    );
  lines.push("", "# Secrets");
  for (const secret of plan.secrets) {
    const value = secretValues[secret.name];
    if (value === undefined) throw new Error(`No value for secret ${secret.name}`);
    lines.push(`# ${secret.description}`, `${secret.name}=${value}`);
  }
  return lines.join("\n") + "\n";
}

function secretValue(values: Record<string, string>, name: string): string {
  const value = values[name];
  if (value === undefined) throw new Error(`No value for secret ${name}`);
  return value;
}

/** Drops undefined keys so the YAML has no `key: null` lines. */
function strip(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
}
