// The application model as something to deploy: every resource with its image, its settings, what
// it waits for, its health checks and the environment it gets, with secrets kept as references.
// The Compose and Kubernetes publishers both render this plan, so a resource added to app.ts
// appears in every output and both outputs agree on names, ports and variables.

import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import path from "node:path";
import { artemisEtcFiles, BROKER_PROPERTIES_FILE } from "../artemis/etc-files.js";
import { hashArtemisPassword, renderRolesFile } from "../artemis/instance.js";
import { brokerRoles } from "../artemis/security.js";
import { derivedClusterId, kafkaImageEnvironment, kafkaNodeSettings } from "../kafka/node-config.js";
import { topicConfig, type PublishedTopic } from "../kafka/topics-script.js";
import type { AppBuilder } from "../model/app-builder.js";
import { ArtemisResource } from "../model/artemis.js";
import { ContainerResource, type ContainerEndpoint } from "../model/container.js";
import { DockerfileResource } from "../model/dockerfile.js";
import { ExecutableResource } from "../model/executable.js";
import { KafkaResource } from "../model/kafka.js";
import { NodeAppResource } from "../model/node-app.js";
import { NodeServiceResource } from "../model/node-service.js";
import { ParameterResource } from "../model/parameter.js";
import { PostgresDatabaseResource, PostgresServerResource } from "../model/postgres.js";
import { envPrefix, type ReferenceTarget, type Resource } from "../model/resource.js";
import { referenceEnvironment } from "../runtime/environment.js";
import { databaseRoleNames } from "../runtime/postgres-roles.js";
import { imageVariable, OFFICIAL_IMAGES } from "../providers/container/images.js";

/** Port every service listens on inside its container (the HOST/PORT contract of service-defaults). */
export const SERVICE_PORT = 8080;
export const POSTGRES_PORT = 5432;
/** The official Artemis image's acceptor for every protocol (AMQP included). */
export const ARTEMIS_PORT = 61616;
/** The official Kafka image's broker port, and its KRaft controller's (inside the pod only). */
export const KAFKA_PORT = 9092;
export const KAFKA_CONTROLLER_PORT = 9093;
/** The official Kafka image's data volume and its user (appuser). */
export const KAFKA_DATA_DIR = "/var/lib/kafka/data";
export const KAFKA_UID = 1000;
/** The broker's JVM heap; its container's memory limit leaves room for page cache and threads. */
export const KAFKA_HEAP_OPTS = "-Xmx1g -Xms256m";
export const POSTGRES_USER = "postgres";
export const ARTEMIS_USER = "artemis";
/** Inside the broker container: where the published broker.properties is mounted, read on every start. */
export const ARTEMIS_CONFIG_DIR = "/etc/outbox-broker";

/** A value that is literal text with secrets spliced in by name; renderers decide the syntax. */
export type TemplatePart = string | { secret: string };
export type Template = TemplatePart[];

export interface SecretSpec {
  /** Variable-style name, e.g. SENDER_PG_PASSWORD: the key in `.env` and in the Kubernetes Secret. */
  name: string;
  description: string;
}

export interface ImageSpec {
  /** Variable that overrides the image at deploy time, e.g. APPHOST_IMAGE_POSTGRES. */
  variable: string;
  /** What users get by default: `<name>:<tag>@sha256:…` when the registry digest is known. */
  image: string;
  /** False when no digest was known at publish time: the tag alone names the image. */
  pinned: boolean;
}

export interface PostgresPlan {
  kind: "postgres";
  name: string;
  image: ImageSpec;
  passwordSecret: string;
  /** The first database is created by the image (POSTGRES_DB); the others by the init script. */
  databases: string[];
  /**
   * Runs once, when the data volume is initialised (the image's /docker-entrypoint-initdb.d):
   * creates the other databases and every database's owner and runtime roles, with the same
   * grants the AppHost gives them (runtime/postgres-roles.ts). Reads the role passwords from the
   * container variables named in `initSecrets`.
   */
  initScript: string;
  /** Secrets the init script reads, each as a container variable of the same name. */
  initSecrets: string[];
  settings: Array<[string, string]>;
  dependsOn: string[];
}

export interface ArtemisPlan {
  kind: "artemis";
  name: string;
  image: ImageSpec;
  passwordSecret: string;
  /** File name → content, mounted into ARTEMIS_CONFIG_DIR (no secret in any of them). */
  configFiles: Map<string, string>;
  /** Every broker user (the admin first, then one per service) and its password's secret. */
  logins: Array<{ username: string; secret: string }>;
  /**
   * Variables of the broker container: the JAAS login configuration (users and roles files) is
   * read from ARTEMIS_CONFIG_DIR on every start, not from the instance's etc/ (written once).
   */
  environment: Array<{ name: string; value: string }>;
  dependsOn: string[];
}

/** The broker's JVM heap; its container's memory limit leaves room for direct buffers and threads. */
export const ARTEMIS_HEAP = "1g";

/**
 * The broker's health check: logs in as the admin and asks whether the node is up. The password
 * never reaches a command line (visible to `ps` in the container and on the host): the shell's
 * builtin printf writes it to a pipe, and the Artemis CLI reads it with picocli's @file expansion
 * from /dev/stdin. `dollar` is "$$" in Compose (which would interpolate a single "$").
 */
export function brokerCheckScript(dollar: "$" | "$$"): string {
  return (
    `printf -- '--password\\n%s\\n' "${dollar}ARTEMIS_PASSWORD" | ` +
    `/var/lib/artemis-instance/bin/artemis check node --up --silent --url tcp://127.0.0.1:${ARTEMIS_PORT} ` +
    `--user "${dollar}ARTEMIS_USER" @/dev/stdin > /dev/null`
  );
}

/** The broker's users file (hashed passwords) in ARTEMIS_CONFIG_DIR: a secret of its own. */
export const ARTEMIS_USERS_FILE = "artemis-users.properties";
const ARTEMIS_ROLES_FILE = "artemis-roles.properties";
const ARTEMIS_LOGIN_CONFIG = "login.config";

export interface KafkaPlan {
  kind: "kafka";
  name: string;
  image: ImageSpec;
  /**
   * The id the data volume is formatted with on the first start (the image's CLUSTER_ID): derived
   * from the app's and the resource's names, so publishing again names the same cluster.
   */
  clusterId: string;
  /**
   * The node's KAFKA_* variables without the advertised listener, which each output sets to the
   * name clients reach the broker by (the Compose service, the Kubernetes pod's DNS name).
   */
  environment: Array<{ name: string; value: string }>;
  /** Created by a one-shot step once the broker answers (kafka/topics-script.ts). */
  topics: PublishedTopic[];
  dependsOn: string[];
}

export interface ServicePlan {
  kind: "service";
  name: string;
  /** The repository folder the image is built from (e.g. sender-service). */
  directory: string;
  image: ImageSpec;
  /**
   * How a plain Node app's image is built (addNodeApp, addNpmScript); undefined for a service of
   * this repository's kind (NodeServiceResource), whose image `npm run images:services` builds.
   */
  build: NodeAppBuild | undefined;
  replicas: number;
  port: number | undefined;
  /** From the model's withHttpHealthCheck; none is assumed. */
  readinessPath: string | undefined;
  /** From the model's withLivenessCheck; none is assumed. */
  livenessPath: string | undefined;
  /** Infrastructure and services this one waits for (healthy first), by plan resource name. */
  dependsOn: string[];
  /**
   * The one-shot migrations step (a Compose service, a Kubernetes init container): the only
   * workload that gets the databases' owner credentials. Undefined without a database reference
   * or without `withMigrations` in the model.
   */
  migrations: MigrationsPlan | undefined;
  /** Everything this service connects to (references and waitFor): what the network lets through. */
  connects: Connection[];
  environment: Array<{ name: string; value: Template }>;
}

export interface MigrationsPlan {
  /** The script in the service's image, relative to its working directory. */
  entryPoint: string;
  /** The databases' owner URLs, as `ConnectionStrings__<db>` and `<DB>_MIGRATIONS_URI`. */
  environment: Array<{ name: string; value: Template }>;
  /** Plan resources (the databases' servers) the step needs. */
  dependsOn: string[];
}

export interface NodeAppBuild {
  /** The app's folder, absolute: the build context. */
  contextDir: string;
  /** "own": the folder's Dockerfile; "generic": the generic Node Dockerfile (node-app-image.ts). */
  dockerfile: "own" | "generic";
  /** What a generic image runs, e.g. ["node", "server.js"]; undefined with its own Dockerfile (its CMD). */
  command: string[] | undefined;
}

/** How a container's health is checked once deployed: from the model's readiness. */
export type ContainerHealth =
  | { kind: "http"; path: string; port: number }
  | { kind: "tcp"; port: number }
  | { kind: "none"; reason: string };

/** How an `addDockerfile` container's image is built. */
export interface ContainerBuild {
  /** The build context (absolute). */
  contextDir: string;
  /** The Dockerfile's path inside the context. */
  dockerfile: string;
  args: Readonly<Record<string, string>>;
}

/** An `addContainer` resource (and kinds built on it, e.g. Jaeger, `addDockerfile`). */
export interface ContainerPlan {
  kind: "container";
  name: string;
  image: ImageSpec;
  /** An `addDockerfile` resource: the image is built from this instead of pulled. */
  build: ContainerBuild | undefined;
  endpoints: ContainerEndpoint[];
  environment: Array<{ name: string; value: Template }>;
  volumes: Array<{ name: string; target: string }>;
  /** Host paths (absolute): Compose mounts them; Kubernetes cannot, and says so. */
  bindMounts: Array<{ source: string; target: string; readOnly: boolean }>;
  args: string[] | undefined;
  health: ContainerHealth;
  dependsOn: string[];
  connects: Connection[];
}

/** A resource of the model that publish leaves out, and why (a line in the output and a comment). */
export interface ExcludedResource {
  name: string;
  reason: string;
}

/** A TCP connection a workload opens to another one of the plan. */
export interface Connection {
  resource: string;
  port: number;
}

export type ResourcePlan = PostgresPlan | ArtemisPlan | KafkaPlan | ServicePlan | ContainerPlan;

export interface DeployPlan {
  app: string;
  resources: ResourcePlan[];
  secrets: SecretSpec[];
  /** Resources not published (executables), with the reason. */
  excluded: ExcludedResource[];
  /** Warnings for the user, e.g. a reference to a resource that is not published. */
  notes: string[];
}

export interface DeployPlanOptions {
  /** Tag of the services' images, `<app>/<directory>:<tag>` (service-images.ts serviceImageTag). */
  serviceTag: string;
  /**
   * The project root: plain Node apps' folders resolve against it (their Dockerfile, their start
   * command). Required when the model has one.
   */
  rootDir?: string;
  /** Image tag per plain Node app (node-app-image.ts nodeAppImageTag); default: serviceTag. */
  appTags?: ReadonlyMap<string, string>;
  /** Registry digests (`sha256:…`) by image reference, for the images whose digest is known. */
  digests?: ReadonlyMap<string, string>;
}

/**
 * The compiled script a service image carries for the model's `withMigrations(entry)`: images hold
 * each `src/*.ts` as the `.js` beside it (service-images.ts).
 */
export function compiledEntryPoint(entryPoint: string): string {
  return entryPoint.replace(/\.(c|m)?ts$/, (_match, kind: string | undefined) => `.${kind ?? ""}js`);
}

/** `image@digest` when the digest is known; the tag stays for people reading the file. */
function imageSpec(
  variable: string,
  image: string,
  digests: ReadonlyMap<string, string> | undefined,
): ImageSpec {
  const digest = digests?.get(image);
  if (digest !== undefined && !/^sha256:[0-9a-f]{64}$/.test(digest))
    throw new Error(`Invalid digest for ${image}: "${digest}" (expected sha256:<64 hex digits>)`);
  return digest === undefined
    ? { variable, image, pinned: false }
    : { variable, image: `${image}@${digest}`, pinned: true };
}

/** Reads the model. Throws on what cannot be deployed (an unknown resource kind). */
export function deployPlan(model: AppBuilder, options: DeployPlanOptions): DeployPlan {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(options.serviceTag))
    throw new Error(`Invalid image tag "${options.serviceTag}"`);
  const secrets: SecretSpec[] = [];
  const resources: ResourcePlan[] = [];
  const excluded: ExcludedResource[] = [];
  const notes: string[] = [];
  const deployed = (r: Resource) => (r instanceof PostgresDatabaseResource ? r.server.name : r.name);
  // Parameters are values, not deployed things: they become variables of the services using them.
  // Executables are not published: waiting for one is dropped, with a note.
  const dependsOn = (r: Resource) =>
    unique(
      r
        .dependencies()
        .filter((d) => {
          if (d instanceof ExecutableResource)
            notes.push(
              `${r.name}: waits for the executable "${d.name}", which is not published; the wait is dropped`,
            );
          return !(d instanceof ParameterResource) && !(d instanceof ExecutableResource);
        })
        .map(deployed),
    ).filter((n) => n !== r.name);

  for (const resource of model.resources()) {
    if (resource instanceof PostgresServerResource) {
      const passwordSecret = secretName(resource.name);
      secrets.push({
        name: passwordSecret,
        description: `PostgreSQL superuser password of ${resource.name}`,
      });
      const initSecrets: string[] = [];
      for (const database of resource.databases) {
        for (const role of ["owner", "app"] as const) {
          const name = databaseRoleSecretName(database.databaseName, role);
          secrets.push({ name, description: `PostgreSQL password of ${database.databaseName}_${role}` });
          initSecrets.push(name);
        }
      }
      resources.push({
        kind: "postgres",
        name: resource.name,
        image: imageSpec(
          imageVariable("postgres"),
          resource.image ?? OFFICIAL_IMAGES.postgres,
          options.digests,
        ),
        passwordSecret,
        databases: resource.databases.map((d) => d.databaseName),
        initScript: postgresInitScript(resource.databases.map((d) => d.databaseName)),
        initSecrets,
        settings: [...resource.settings],
        dependsOn: dependsOn(resource),
      });
    } else if (resource instanceof ArtemisResource) {
      const passwordSecret = secretName(resource.name);
      secrets.push({ name: passwordSecret, description: `Artemis password of user ${ARTEMIS_USER}` });
      const clients = resource.clients();
      const logins = [{ username: ARTEMIS_USER, secret: passwordSecret }];
      for (const client of clients) {
        const secret = brokerClientSecretName(resource.name, client.name);
        secrets.push({ name: secret, description: `Artemis password of ${client.name}'s own user` });
        logins.push({ username: client.name, secret });
      }
      const configFiles = artemisEtcFiles(resource.topology(), { adminUser: ARTEMIS_USER, clients });
      configFiles.set(ARTEMIS_ROLES_FILE, renderRolesFile(brokerRoles(ARTEMIS_USER, clients)));
      configFiles.set(ARTEMIS_LOGIN_CONFIG, LOGIN_CONFIG);
      resources.push({
        kind: "artemis",
        name: resource.name,
        image: imageSpec(
          imageVariable("artemis"),
          resource.image ?? OFFICIAL_IMAGES.artemis,
          options.digests,
        ),
        passwordSecret,
        configFiles,
        logins,
        environment: [
          {
            name: "JAVA_ARGS_APPEND",
            // The heap is capped below the container's memory limit (ARTEMIS_MEMORY_LIMIT): the
            // instance's own -Xmx2G would let the JVM grow into the kernel's OOM killer. The last
            // -Xmx on the java command line wins.
            value: `-Djava.security.auth.login.config=${ARTEMIS_CONFIG_DIR}/${ARTEMIS_LOGIN_CONFIG} -Xmx${ARTEMIS_HEAP}`,
          },
        ],
        dependsOn: dependsOn(resource),
      });
    } else if (resource instanceof KafkaResource) {
      resources.push(kafkaPlan(model, resource, dependsOn(resource), options));
    } else if (resource instanceof NodeAppResource) {
      if (resource.serviceDefaults)
        secrets.push({
          name: adminTokenSecretName(resource.name),
          description: `admin API token (ADMIN_TOKEN) of ${resource.name}`,
        });
      resources.push(servicePlan(model, resource, dependsOn(resource), options, notes));
    } else if (resource instanceof ContainerResource) {
      resources.push(containerPlan(model, resource, dependsOn(resource), options, notes));
    } else if (resource instanceof ExecutableResource) {
      excluded.push({
        name: resource.name,
        reason:
          "an executable runs on the host; not published — a program has no image to deploy: " +
          "give it a Dockerfile and declare it as a container to publish it",
      });
    } else if (resource instanceof ParameterResource) {
      // A secret parameter is generated into the secrets file like a password; others are literals.
      if (resource.secret)
        secrets.push({ name: parameterSecretName(resource.name), description: `parameter ${resource.name}` });
    } else if (!(resource instanceof PostgresDatabaseResource)) {
      // Databases live inside their server's plan; anything else has no deploy form yet.
      throw new Error(`Cannot publish resource "${resource.name}" of kind "${resource.kind}"`);
    }
  }
  return { app: model.name, resources, secrets, excluded, notes };
}

function kafkaPlan(
  model: AppBuilder,
  kafka: KafkaResource,
  dependsOn: string[],
  options: DeployPlanOptions,
): KafkaPlan {
  const topics: PublishedTopic[] = kafka.topics();
  // Checked now: a setting that cannot be published fails the publish, not the deployment.
  for (const topic of topics) topicConfig(kafka.name, topic);
  const settings = kafkaNodeSettings(
    {
      listenHost: "0.0.0.0",
      brokerPort: KAFKA_PORT,
      controllerPort: KAFKA_CONTROLLER_PORT,
      advertisedHost: kafka.name,
      advertisedPort: KAFKA_PORT,
    },
    KAFKA_DATA_DIR,
  );
  settings.delete("advertised.listeners");
  const clusterId = derivedClusterId(`outbox-apphost\0${model.name}\0${kafka.name}`);
  return {
    kind: "kafka",
    name: kafka.name,
    image: imageSpec(imageVariable("kafka"), kafka.image ?? OFFICIAL_IMAGES.kafka, options.digests),
    clusterId,
    environment: Object.entries(kafkaImageEnvironment(settings)).map(([name, value]) => ({ name, value })),
    topics,
    dependsOn,
  };
}

type SetVariable = (name: string, value: Template | string) => void;

/** The variables a workload collects, and the connections it opens. */
class WorkloadEnvironment {
  readonly environment: Array<{ name: string; value: Template }> = [];
  readonly connects: Connection[] = [];
  readonly set: SetVariable = (name, value) =>
    this.environment.push({ name, value: typeof value === "string" ? [value] : value });

  connect(connection: Connection): void {
    if (!this.connects.some((c) => c.resource === connection.resource && c.port === connection.port))
      this.connects.push(connection);
  }
}

/** The database role a client connects as: its model's choice where it has one (node apps, executables). */
function databaseRoleOf(model: AppBuilder, client: string, database: string): "owner" | "runtime" {
  const resource = model.resources().find((r) => r.name === client) as
    Partial<{ databaseRole(database: string): "owner" | "runtime" }> | undefined;
  return resource?.databaseRole?.(database) ?? "runtime";
}

/**
 * A client's references as variables, in the runtime's (Aspire's) names: databases and brokers as
 * `ConnectionStrings__<name>` and `<NAME>_*`, apps and containers as `services__<name>__<endpoint>__0`,
 * parameters as `Parameters__<name>`. `onDatabase` sees each database reference (the migrations step).
 */
function addReferences(
  model: AppBuilder,
  client: string,
  references: readonly ReferenceTarget[],
  env: WorkloadEnvironment,
  notes: string[],
  onDatabase: (reference: ReferenceTarget, database: PostgresDatabaseResource) => void = () => undefined,
): void {
  for (const reference of references) {
    const target = model.resources().find((r) => r.name === reference.name);
    if (target !== undefined) for (const endpoint of endpointsOf(target)) env.connect(endpoint);
    if (target instanceof PostgresDatabaseResource) {
      onDatabase(reference, target);
      // The role the runtime gives this client (runtime/postgres-roles.ts): the owner to an app
      // without a migrations step (it creates its own tables), else the runtime role.
      const asOwner = databaseRoleOf(model, client, target.name) === "owner";
      const user = databaseRoleNames(target.databaseName)[asOwner ? "owner" : "runtime"];
      const secret = databaseRoleSecretName(target.databaseName, asOwner ? "owner" : "app");
      const url: Template = [
        `postgresql://${user}:`,
        { secret },
        `@${target.server.name}:${POSTGRES_PORT}/${target.databaseName}`,
      ];
      addReference(env.set, reference.connectionName, url, target.server.name, POSTGRES_PORT, user, secret, {
        databaseName: target.databaseName,
      });
    } else if (target instanceof ArtemisResource) {
      // The client's own broker user (ArtemisResource.clients), never the admin.
      const secret = brokerClientSecretName(target.name, client);
      const uri: Template = [`amqp://${client}:`, { secret }, `@${target.name}:${ARTEMIS_PORT}`];
      addReference(env.set, reference.connectionName, uri, target.name, ARTEMIS_PORT, client, secret, {});
    } else if (target instanceof KafkaResource) {
      // The bootstrap servers, as the runtime injects them (no credentials: a plaintext listener
      // inside the deployment's network, which the NetworkPolicies close to everyone else).
      const bootstrap = `${target.name}:${KAFKA_PORT}`;
      const info = { uri: bootstrap, host: target.name, port: KAFKA_PORT, username: "", password: "" };
      for (const [name, value] of Object.entries(
        referenceEnvironment(reference.connectionName, info, client),
      ))
        env.set(name, value);
    } else if (target instanceof NodeAppResource) {
      if (target.httpEndpoint)
        env.set(`services__${target.name}__http__0`, `http://${target.name}:${SERVICE_PORT}`);
    } else if (target instanceof ContainerResource) {
      for (const endpoint of target.endpoints)
        env.set(
          `services__${target.name}__${endpoint.name}__0`,
          `${endpoint.scheme}://${target.name}:${endpoint.targetPort}`,
        );
    } else if (target instanceof ParameterResource) {
      env.set(`Parameters__${target.name}`, parameterValue(target));
    } else if (target instanceof ExecutableResource) {
      notes.push(
        `${client}: references the executable "${target.name}", which is not published; ` +
          `its services__${target.name}__* variables are left out`,
      );
    } else {
      throw new Error(`Cannot publish the reference from "${client}" to "${reference.name}"`);
    }
  }
}

function servicePlan(
  model: AppBuilder,
  service: NodeAppResource,
  dependsOn: string[],
  options: DeployPlanOptions,
  notes: string[],
): ServicePlan {
  const env = new WorkloadEnvironment();
  const migrations: Array<{ name: string; value: Template }> = [];
  const migrationServers: string[] = [];
  addReferences(model, service.name, service.references, env, notes, (reference, database) => {
    migrationServers.push(database.server.name);
    // The owner's URL only for the migrations step, as both its connection string and
    // <DB>_MIGRATIONS_URI (the long-running service never gets it).
    const owner: Template = [
      `postgresql://${databaseRoleNames(database.databaseName).owner}:`,
      { secret: databaseRoleSecretName(database.databaseName, "owner") },
      `@${database.server.name}:${POSTGRES_PORT}/${database.databaseName}`,
    ];
    migrations.push(
      { name: `ConnectionStrings__${reference.connectionName}`, value: owner },
      { name: `${envPrefix(reference.connectionName)}_MIGRATIONS_URI`, value: owner },
    );
  });
  const set = env.set;
  set("OTEL_SERVICE_NAME", service.name);
  set("NODE_ENV", "production");
  if (service.httpEndpoint) {
    set("HOST", "0.0.0.0");
    set("PORT", String(SERVICE_PORT));
    // service-defaults' host allowlist: other services reach it by its name (IP literals, e.g.
    // probes, always pass the allowlist).
    if (service.serviceDefaults) set("ALLOWED_HOSTS", service.name);
  }
  // Its admin API token, generated per service like the runtime's (service defaults only).
  if (service.serviceDefaults) set("ADMIN_TOKEN", [{ secret: adminTokenSecretName(service.name) }]);
  for (const [name, value] of service.environment) set(name, value);
  for (const [name, parameter] of service.parameterEnvironment) set(name, parameterValue(parameter));
  // waitFor without a reference still opens a connection (the readiness wait).
  for (const dependency of service.dependencies()) for (const e of endpointsOf(dependency)) env.connect(e);

  const isService = service instanceof NodeServiceResource;
  const image = isService
    ? `${model.name}/${service.directory}:${options.serviceTag}`
    : `${model.name}/${service.name}:${options.appTags?.get(service.name) ?? options.serviceTag}`;
  const migrationsEntryPoint = isService ? service.migrationsEntryPoint : undefined;
  return {
    kind: "service",
    name: service.name,
    directory: service.directory,
    image: imageSpec(imageVariable(service.name), image, options.digests),
    build: isService ? undefined : nodeAppBuild(service, options),
    replicas: service.replicas,
    port: service.httpEndpoint ? SERVICE_PORT : undefined,
    readinessPath: service.healthCheckPath,
    livenessPath: service.livenessPath,
    dependsOn,
    // Only a service that declares its migrations (withMigrations) gets the step and the owner URLs.
    migrations:
      migrations.length === 0 || migrationsEntryPoint === undefined
        ? undefined
        : {
            entryPoint: compiledEntryPoint(migrationsEntryPoint),
            environment: [...migrations, { name: "NODE_ENV", value: ["production"] }],
            dependsOn: unique(migrationServers),
          },
    connects: env.connects,
    environment: env.environment,
  };
}

/** A plain Node app's image: its folder's own Dockerfile, else the generic one running its start command. */
function nodeAppBuild(app: NodeAppResource, options: DeployPlanOptions): NodeAppBuild {
  if (options.rootDir === undefined)
    throw new Error(`Cannot publish Node app "${app.name}" without the project root (rootDir)`);
  const contextDir = app.resolveDirectory(options.rootDir);
  if (existsSync(path.join(contextDir, "Dockerfile")))
    return { contextDir, dockerfile: "own", command: undefined };
  // The command the AppHost runs, with the entry relative to the app's folder (the image's WORKDIR).
  const start = app.startCommand(options.rootDir);
  const inFolder = (arg: string) =>
    path.isAbsolute(arg) && arg.startsWith(`${start.cwd}${path.sep}`) ? path.relative(start.cwd, arg) : arg;
  const command =
    start.command === process.execPath
      ? ["node", ...start.args.map(inFolder)]
      : [start.command, ...start.args];
  return { contextDir, dockerfile: "generic", command };
}

/** Readiness in the model → the deployed health check; log readiness has no deployed equivalent. */
function containerHealth(container: ContainerResource): ContainerHealth {
  const readiness = container.readiness;
  const first = container.endpoints[0];
  if (readiness?.kind === "http") {
    const endpoint = container.endpoints.find((e) => e.name === readiness.endpoint);
    if (!endpoint)
      throw new Error(`"${container.name}" has no endpoint "${readiness.endpoint}" for its health check`);
    if (!/^\/[A-Za-z0-9._~/?=&%:@+,;!*()-]*$/.test(readiness.path))
      throw new Error(`Cannot publish the health check path of "${container.name}": "${readiness.path}"`);
    return { kind: "http", path: readiness.path, port: endpoint.targetPort };
  }
  if (readiness?.kind === "log")
    return {
      kind: "none",
      reason: `ready when its log shows ${String(readiness.pattern)}: no probe checks a log, so none is published`,
    };
  // Port readiness, and no readiness at all (the runtime then waits for the ports too).
  if (first) return { kind: "tcp", port: first.targetPort };
  return { kind: "none", reason: "no endpoint and no health check in the model" };
}

function containerPlan(
  model: AppBuilder,
  container: ContainerResource,
  dependsOn: string[],
  options: DeployPlanOptions,
  notes: string[],
): ContainerPlan {
  const env = new WorkloadEnvironment();
  // Containers gain references through the model (withReference) where the model has them.
  const { references } = container as Partial<{ references: readonly ReferenceTarget[] }>;
  addReferences(model, container.name, references ?? [], env, notes);
  for (const [name, value] of container.environment) env.set(name, value);
  for (const dependency of container.dependencies()) for (const e of endpointsOf(dependency)) env.connect(e);
  // Host paths of the model are relative to the project root.
  const resolve = (relative: string) => {
    if (options.rootDir === undefined)
      throw new Error(
        `Cannot publish container "${container.name}": its host paths need the project root (rootDir)`,
      );
    return path.resolve(options.rootDir, relative);
  };
  return {
    kind: "container",
    name: container.name,
    image: imageSpec(
      container.imageVariable,
      container instanceof DockerfileResource
        ? `${model.name}/${container.name}:${options.appTags?.get(container.name) ?? "latest"}`
        : container.image,
      options.digests,
    ),
    build:
      container instanceof DockerfileResource
        ? {
            contextDir: resolve(container.contextDir),
            dockerfile: container.dockerfile,
            args: { ...container.buildArgs },
          }
        : undefined,
    endpoints: container.endpoints.map((e) => ({ ...e })),
    environment: env.environment,
    volumes: container.volumes.map((v) => ({ ...v })),
    bindMounts: container.bindMounts.map((b) => ({ ...b, source: resolve(b.source) })),
    args: container.args === undefined ? undefined : [...container.args],
    health: containerHealth(container),
    dependsOn,
    connects: env.connects,
  };
}

/** Where a workload connects to reach a resource of the model, if it is deployed and listens. */
function endpointsOf(resource: Resource): Connection[] {
  if (resource instanceof PostgresDatabaseResource)
    return [{ resource: resource.server.name, port: POSTGRES_PORT }];
  if (resource instanceof PostgresServerResource) return [{ resource: resource.name, port: POSTGRES_PORT }];
  if (resource instanceof ArtemisResource) return [{ resource: resource.name, port: ARTEMIS_PORT }];
  if (resource instanceof KafkaResource) return [{ resource: resource.name, port: KAFKA_PORT }];
  if (resource instanceof NodeAppResource && resource.httpEndpoint)
    return [{ resource: resource.name, port: SERVICE_PORT }];
  if (resource instanceof ContainerResource)
    return resource.endpoints.map((e) => ({ resource: resource.name, port: e.targetPort }));
  return [];
}

function addReference(
  set: (name: string, value: Template | string) => void,
  connectionName: string,
  uri: Template,
  host: string,
  port: number,
  username: string,
  secret: string,
  extra: { databaseName?: string },
): void {
  // The same variable names the runtime injects (runtime/environment.ts), with the URI and the
  // password as templates; the marker never reaches an output.
  const marker = "\u0000uri\u0000";
  // The credentials are already the client's own here: no per-client lookup.
  const env = referenceEnvironment(
    connectionName,
    { uri: marker, host, port, username, password: marker, ...extra },
    username,
  );
  for (const [name, value] of Object.entries(env)) {
    if (value !== marker) set(name, value);
    else set(name, name.endsWith("_PASSWORD") ? [{ secret }] : uri);
  }
}

/**
 * The secret holding a resource's password: SECRET_<RESOURCE>_PASSWORD. The prefix keeps it apart
 * from the variables services get (a reference to "broker" injects BROKER_PASSWORD itself).
 */
/** A parameter's value in published output: a secret from the secrets file, else its default. */
function parameterValue(parameter: ParameterResource): Template {
  if (parameter.secret) return [{ secret: parameterSecretName(parameter.name) }];
  if (parameter.defaultValue === undefined)
    throw new Error(
      `Cannot publish parameter "${parameter.name}": it is not secret and has no default (give it one in the model)`,
    );
  return [parameter.defaultValue];
}

export function parameterSecretName(parameter: string): string {
  return `SECRET_PARAMETER_${envPrefix(parameter)}`;
}

export function secretName(resource: string): string {
  return `SECRET_${envPrefix(resource)}_PASSWORD`;
}

/** SECRET_<DATABASE>_OWNER_PASSWORD / SECRET_<DATABASE>_APP_PASSWORD. */
export function databaseRoleSecretName(database: string, role: "owner" | "app"): string {
  return `SECRET_${envPrefix(database)}_${role.toUpperCase()}_PASSWORD`;
}

/**
 * The init script of a published PostgreSQL server (database names are plain identifiers, checked
 * by the model). The passwords never reach a command line: psql reads them from the container's
 * variables itself (`\\getenv`, psql 15 and later, as in the default image) and quotes them.
 */
export function postgresInitScript(databases: string[]): string {
  const lines = [
    "# Generated by the Outbox AppHost: the databases and, for each, an owner role (runs the",
    "# migrations) and a runtime role (reads and writes rows, nothing else). Runs once, when the",
    "# data volume is initialised; the passwords come from the container's variables.",
    "outbox_roles() {",
    '  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc --dbname postgres',
    "}",
  ];
  databases.forEach((database, index) => {
    const { owner, runtime } = databaseRoleNames(database);
    const role = `LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD`;
    lines.push(
      "outbox_roles <<'SQL'",
      `\\getenv owner_password ${databaseRoleSecretName(database, "owner")}`,
      `\\getenv app_password ${databaseRoleSecretName(database, "app")}`,
      // A missing variable stops the script (ON_ERROR_STOP) with a message naming it.
      "\\if :{?owner_password}",
      "\\else",
      `DO $$ BEGIN RAISE EXCEPTION '${databaseRoleSecretName(database, "owner")} is not set'; END $$;`,
      "\\endif",
      "\\if :{?app_password}",
      "\\else",
      `DO $$ BEGIN RAISE EXCEPTION '${databaseRoleSecretName(database, "app")} is not set'; END $$;`,
      "\\endif",
      // The first database is the image's POSTGRES_DB, created before this script runs.
      ...(index === 0 ? [] : [`CREATE DATABASE ${database};`]),
      `CREATE ROLE ${owner} ${role} :'owner_password';`,
      `CREATE ROLE ${runtime} ${role} :'app_password';`,
      `ALTER DATABASE ${database} OWNER TO ${owner};`,
      `REVOKE ALL ON DATABASE ${database} FROM PUBLIC;`,
      `GRANT CONNECT ON DATABASE ${database} TO ${runtime};`,
      `\\connect ${database}`,
      `ALTER SCHEMA public OWNER TO ${owner};`,
      "REVOKE ALL ON SCHEMA public FROM PUBLIC;",
      `GRANT USAGE ON SCHEMA public TO ${runtime};`,
      `ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${runtime};`,
      `ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO ${runtime};`,
      "SQL",
    );
  });
  return `${lines.join("\n")}\n`;
}

/** A service's own broker user's password: SECRET_<BROKER>_<SERVICE>_PASSWORD. */
export function brokerClientSecretName(broker: string, client: string): string {
  return `SECRET_${envPrefix(broker)}_${envPrefix(client)}_PASSWORD`;
}

export function adminTokenSecretName(service: string): string {
  return `SECRET_${envPrefix(service)}_ADMIN_TOKEN`;
}

/** JAAS: the properties login module, reading its two files from ARTEMIS_CONFIG_DIR. */
const LOGIN_CONFIG = `activemq {
   org.apache.activemq.artemis.spi.core.security.jaas.PropertiesLoginModule required
       debug=false
       reload=true
       baseDir="${ARTEMIS_CONFIG_DIR}"
       org.apache.activemq.jaas.properties.user="${ARTEMIS_USERS_FILE}"
       org.apache.activemq.jaas.properties.role="${ARTEMIS_ROLES_FILE}";
};
`;

/**
 * The broker's users file, from the secrets' values: hashed (PBKDF2, as Artemis reads it) with a
 * salt derived from user and password, so that publishing again with the same secrets writes the
 * same file. The passwords are 32 random characters: the hash gives nothing away.
 */
export function brokerUsersFile(plan: ArtemisPlan, secret: (name: string) => string): string {
  const lines = plan.logins.map((login) => {
    const password = secret(login.secret);
    const salt = createHash("sha256").update(`outbox-apphost\0${login.username}\0${password}`).digest();
    return `${login.username} = ${hashArtemisPassword(password, salt)}\n`;
  });
  return `# Generated by the Outbox AppHost from the secrets file; publish again after changing one.\n${lines.join("")}`;
}

/** Every secret name a template refers to. */
export function secretsIn(template: Template): string[] {
  return template.flatMap((p) => (typeof p === "string" ? [] : [p.secret]));
}

/** Renders a template with `secret(name)` for each secret reference. */
export function renderTemplate(template: Template, secret: (name: string) => string): string {
  return template.map((p) => (typeof p === "string" ? p : secret(p.secret))).join("");
}

export function brokerPropertiesOf(plan: ArtemisPlan): string {
  const content = plan.configFiles.get(BROKER_PROPERTIES_FILE);
  if (content === undefined) throw new Error(`No ${BROKER_PROPERTIES_FILE} for broker "${plan.name}"`);
  return content;
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}
