import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { nodeAppKind } from "../kinds/node-app.js";
import { BrokerAddressUse } from "./artemis.js";
import type { DatabaseRole } from "../runtime/environment.js";
import { ParameterResource } from "./parameter.js";
import { PostgresDatabaseResource } from "./postgres.js";
import { Resource, type ReferenceTarget } from "./resource.js";

export type { DatabaseRole } from "../runtime/environment.js";

export interface ReferenceOptions {
  /**
   * For a database: connect as its owner (may create and alter tables: the app migrates itself) or
   * as its runtime role (reads and writes rows only). The default is the owner for a resource
   * without a migrations step, the runtime role for a service (`addNodeService`).
   */
  role?: DatabaseRole;
}

/**
 * Checks a reference's options and records its database role in `roles`: a role only means
 * something for a database.
 */
export function recordDatabaseRole(
  client: string,
  target: ReferenceTarget,
  options: ReferenceOptions,
  roles: Map<string, DatabaseRole>,
): void {
  if (options.role === undefined) return;
  if (options.role !== "owner" && options.role !== "runtime")
    throw new Error(
      `withReference role of "${client}" must be "owner" or "runtime" (got "${String(options.role)}")`,
    );
  if (!(target instanceof PostgresDatabaseResource))
    throw new Error(`"${client}" references "${target.name}" with a role, but only a database has roles`);
  roles.set(target.name, options.role);
}

export interface HttpEndpointOptions {
  /** Fixed port; by default a free port is chosen and kept across runs when still free. */
  port?: number;
  name?: string;
}

export interface NodeAppOptions {
  /**
   * The file `node` runs, relative to the app's folder. Without it, the file is taken from the
   * `start` script of the folder's package.json when that script is `node <file>`.
   */
  entry?: string;
}

/** What starts one process of a Node app: a program, its arguments, its working folder. */
export interface NodeAppCommand {
  command: string;
  args: string[];
  cwd: string;
}

/**
 * The loader `withServiceDefaults()` adds: TypeScript through tsx, and the workspace packages'
 * `outbox-source` export condition, so that @outbox/messaging resolves to its sources (no build).
 */
export const SERVICE_LOADER_ARGS = ["--conditions=outbox-source", "--import", "tsx"];

/** Node arguments of an app with service defaults: its loader, telemetry hooks before anything loads. */
export const SERVICE_NODE_ARGS = [...SERVICE_LOADER_ARGS, "--import", "@outbox/service-defaults/instrument"];

/**
 * A plain Node.js app (Aspire's AddNodeApp): run with plain `node` from its folder, with the
 * injected environment and nothing else — no loader, no telemetry hooks, no admin token — unless
 * the model asks for them with `withServiceDefaults()`.
 */
export class NodeAppResource extends Resource {
  readonly references: ReferenceTarget[] = [];
  /** The database roles the model chose per referenced database (`withReference(db, { role })`). */
  readonly databaseRoles = new Map<string, DatabaseRole>();
  readonly environment = new Map<string, string>();
  /** Variables whose value is a parameter's, resolved when the app starts. */
  readonly parameterEnvironment = new Map<string, ParameterResource>();
  httpEndpoint: HttpEndpointOptions | undefined;
  healthCheckPath: string | undefined;
  /** Published liveness probe path (`withLivenessCheck`); none unless the model names one. */
  livenessPath: string | undefined;
  /** How many processes run this app, each with its own port and instance id (`<name>-0` …). */
  replicas = 1;
  /** Started with the tsx loader and `@outbox/service-defaults/instrument`, and given an `ADMIN_TOKEN`. */
  serviceDefaults = false;
  /** The explicit entry file (`{ entry }`), relative to the app's folder. */
  private readonly explicitEntry: string | undefined;

  constructor(
    name: string,
    /** App folder, relative to the repository root or absolute. */
    readonly directory: string,
    options: NodeAppOptions = {},
    kind = nodeAppKind,
  ) {
    super(name, kind);
    if (options.entry !== undefined) assertInsideFolder(name, "Entry point", options.entry);
    this.explicitEntry = options.entry;
  }

  /** Referencing resources find it as `services__<name>__http__0`. */
  get connectionName(): string {
    return this.name;
  }

  /**
   * Injects the target's connection information (Aspire conventions); a parameter as
   * `Parameters__<name>`. A database's credentials are its owner's unless `{ role: "runtime" }`:
   * a plain app creates its own tables at start-up.
   */
  withReference(target: ReferenceTarget | NodeAppResource, options: ReferenceOptions = {}): this {
    recordDatabaseRole(this.name, target, options, this.databaseRoles);
    // A parameter is resolved before the app starts (it is "healthy" at once).
    if (target instanceof ParameterResource) this.waitsFor.add(target);
    if (target instanceof NodeAppResource) {
      this.references.push({ name: target.name, connectionName: target.name });
    } else {
      this.references.push(target);
      target.referencedBy?.(this.name);
    }
    return this;
  }

  /** The role this app connects to a referenced database as. */
  databaseRole(database: string): DatabaseRole {
    return this.databaseRoles.get(database) ?? "owner";
  }

  /** Do not start until `dependency` is Running and Healthy. */
  waitFor(dependency: Resource): this {
    this.waitsFor.add(dependency);
    return this;
  }

  withHttpEndpoint(options: HttpEndpointOptions = {}): this {
    this.httpEndpoint = { name: "http", ...options };
    return this;
  }

  /** Healthy = this path answers 2xx on the HTTP endpoint. */
  withHttpHealthCheck(pathname: string): this {
    if (!pathname.startsWith("/")) throw new Error(`Health check path must start with '/': "${pathname}"`);
    this.healthCheckPath = pathname;
    return this;
  }

  /**
   * The path that answers 2xx while the process is alive at all (even when not ready): published
   * as the Kubernetes liveness and startup probe. Without it, nothing restarts a live process.
   */
  withLivenessCheck(pathname: string): this {
    if (!pathname.startsWith("/")) throw new Error(`Liveness check path must start with '/': "${pathname}"`);
    this.livenessPath = pathname;
    return this;
  }

  /** A variable; a broker address use (`broker.sendsTo(…)`) also grants the app's broker user that access. */
  withEnvironment(
    name: string,
    value: string | number | boolean | ParameterResource | BrokerAddressUse,
  ): this {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
      throw new Error(`Invalid environment variable name "${name}"`);
    if (value instanceof BrokerAddressUse) {
      value.grantTo(this.name);
      this.environment.set(name, value.name);
      this.parameterEnvironment.delete(name);
    } else if (value instanceof ParameterResource) {
      this.waitsFor.add(value);
      this.parameterEnvironment.set(name, value);
      this.environment.delete(name);
    } else {
      this.environment.set(name, String(value));
      this.parameterEnvironment.delete(name);
    }
    return this;
  }

  /**
   * Runs `count` instances of this app. Each replica gets its own port and instance id
   * (`<name>-0`, `<name>-1`, …); they share the app's references.
   */
  withReplicas(count: number): this {
    if (!Number.isInteger(count) || count < 1 || count > 64)
      throw new Error(`Replica count of "${this.name}" must be an integer from 1 to 64 (got ${count})`);
    this.replicas = count;
    return this;
  }

  /** The names of this app's replicas: `<name>-<index>`. */
  replicaNames(): string[] {
    return Array.from({ length: this.replicas }, (_, i) => replicaName(this.name, i));
  }

  /**
   * Starts the app like this repository's services: with the tsx loader and the telemetry hooks of
   * `@outbox/service-defaults` (which the app must be able to resolve), and an `ADMIN_TOKEN`.
   */
  withServiceDefaults(): this {
    this.serviceDefaults = true;
    return this;
  }

  resolveDirectory(rootDir: string): string {
    return path.resolve(rootDir, this.directory);
  }

  /** The entry file the model names, if it names one (else the start script's). */
  protected configuredEntry(): string | undefined {
    return this.explicitEntry;
  }

  /** The node arguments that come before the entry file. */
  protected nodeArgs(): string[] {
    return this.serviceDefaults ? [...SERVICE_NODE_ARGS] : [];
  }

  /** What starts the app; fails naming the app when its entry cannot be found. */
  startCommand(rootDir: string): NodeAppCommand {
    const cwd = this.resolveDirectory(rootDir);
    const entry = this.configuredEntry();
    const launch =
      entry !== undefined ? { nodeArgs: [], entry, args: [] } : entryFromPackageJson(this.name, cwd);
    const file = path.join(cwd, launch.entry);
    if (!existsSync(file)) throw new Error(`Node app "${this.name}": its entry file ${file} does not exist`);
    return {
      command: process.execPath,
      args: [...this.nodeArgs(), ...launch.nodeArgs, file, ...launch.args],
      cwd,
    };
  }
}

/**
 * An npm script of a folder as a resource: `npm run <script>` there. Everything the script starts
 * is in the process group the AppHost stops.
 */
export class NpmScriptResource extends NodeAppResource {
  constructor(
    name: string,
    directory: string,
    readonly script: string,
  ) {
    super(name, directory, {});
    if (!/^[A-Za-z0-9:_.-]+$/.test(script))
      throw new Error(`npm script name of "${name}" must be letters, digits and ':_.-' (got "${script}")`);
  }

  /** npm, not node, is what the AppHost starts: there is no node command line to add the loader to. */
  override withServiceDefaults(): this {
    throw new Error(
      `npm script "${this.name}" cannot take service defaults: use addNodeApp(…, { entry }).withServiceDefaults()`,
    );
  }

  override startCommand(rootDir: string): NodeAppCommand {
    const cwd = this.resolveDirectory(rootDir);
    const scripts = readPackageJson(this.name, cwd).scripts;
    if (typeof scripts?.[this.script] !== "string")
      throw new Error(
        `Node app "${this.name}": ${path.join(cwd, "package.json")} has no "${this.script}" script`,
      );
    return { command: "npm", args: ["run", "--silent", this.script], cwd };
  }
}

/** The parts of a `node …` start script: node flags, the entry file, the app's own arguments. */
export interface StartScriptEntry {
  nodeArgs: string[];
  entry: string;
  args: string[];
}

/** Node flags whose value may be the next word: `node --import tsx app.js` is not `node tsx`. */
const FLAGS_WITH_VALUE = new Set([
  "-r",
  "--require",
  "--import",
  "--loader",
  "--experimental-loader",
  "-C",
  "--conditions",
]);

/**
 * Reads `node [--flag[=value]] <file> [args]` from a start script; undefined for anything else
 * (another program, shell syntax, a flag whose value is the next word).
 */
export function parseStartScript(script: string): StartScriptEntry | undefined {
  if (/[|&;<>()$`'"\\*?~]/.test(script)) return undefined;
  const [program, ...words] = script.trim().split(/\s+/);
  if (program !== "node") return undefined;
  const nodeArgs: string[] = [];
  while (words[0]?.startsWith("-")) {
    const flag = words.shift() as string;
    if (FLAGS_WITH_VALUE.has(flag)) return undefined;
    nodeArgs.push(flag);
  }
  const entry = words.shift();
  if (entry === undefined || !isInsideFolder(entry)) return undefined;
  return { nodeArgs, entry, args: words };
}

/** The entry of the app in `cwd`, from its package.json start script. */
export function entryFromPackageJson(app: string, cwd: string): StartScriptEntry {
  const start = readPackageJson(app, cwd).scripts?.start;
  const found = typeof start === "string" ? parseStartScript(start) : undefined;
  if (found === undefined)
    throw new Error(
      `Node app "${app}": cannot tell its entry file, the start script of ${path.join(cwd, "package.json")} ` +
        `is ${typeof start === "string" ? `"${start}"` : "missing"}, not "node <file>"; ` +
        `pass it as addNodeApp("${app}", …, { entry: "server.js" }) or run the script with addNpmScript`,
    );
  return found;
}

function readPackageJson(app: string, cwd: string): { scripts?: Record<string, unknown> } {
  const file = path.join(cwd, "package.json");
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new Error(`Node app "${app}": cannot read ${file} (${(error as Error).message})`);
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== "object" || parsed === null) throw new Error("not an object");
    return parsed;
  } catch (error) {
    throw new Error(`Node app "${app}": ${file} is not a JSON object (${(error as Error).message})`);
  }
}

function isInsideFolder(relativePath: string): boolean {
  return (
    relativePath.trim() !== "" &&
    !path.isAbsolute(relativePath) &&
    !relativePath.split(/[\\/]/).includes("..")
  );
}

/** Throws unless `relativePath` names a file inside the app's folder. */
export function assertInsideFolder(app: string, what: string, relativePath: string): void {
  if (!isInsideFolder(relativePath))
    throw new Error(`${what} of "${app}" must be a path inside its folder (got "${relativePath}")`);
}

export function replicaName(service: string, index: number): string {
  return `${service}-${index}`;
}
