import path from "node:path";
import { BrokerAddressUse } from "./artemis.js";
import { ParameterResource } from "./parameter.js";
import { Resource, type ReferenceTarget } from "./resource.js";

export interface HttpEndpointOptions {
  /** Fixed port; by default a free port is chosen and kept across runs when still free. */
  port?: number;
  name?: string;
}

/** A Node.js service run from a folder of this repository (`src/main.ts`). */
export class NodeServiceResource extends Resource {
  readonly references: ReferenceTarget[] = [];
  readonly environment = new Map<string, string>();
  /** Variables whose value is a parameter's, resolved when the service starts. */
  readonly parameterEnvironment = new Map<string, ParameterResource>();
  httpEndpoint: HttpEndpointOptions | undefined;
  healthCheckPath: string | undefined;
  entryPoint = "src/main.ts";
  /**
   * The service's migrations entry point (`withMigrations`): run as a one-shot step with the database
   * owner's credentials before each start of the service, never by the long-running processes.
   */
  migrationsEntryPoint: string | undefined;
  /** How many processes run this service, each with its own port and instance id (`<name>-0` …). */
  replicas = 1;

  constructor(
    name: string,
    /** Service folder, relative to the repository root or absolute. */
    readonly directory: string,
  ) {
    super(name, "node-service");
  }

  /** Injects the target's connection information (Aspire conventions); a parameter as `Parameters__<name>`. */
  withReference(target: ReferenceTarget | NodeServiceResource): this {
    // A parameter is resolved before the service starts (it is "healthy" at once).
    if (target instanceof ParameterResource) this.waitsFor.add(target);
    if (target instanceof NodeServiceResource) {
      this.references.push({ name: target.name, connectionName: target.name });
    } else {
      this.references.push(target);
      target.referencedBy?.(this.name);
    }
    return this;
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

  /** A variable; a broker address use (`broker.sendsTo(…)`) also grants the service's broker user that access. */
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
   * Runs `count` instances of this service. Each replica gets its own port and instance id
   * (`<name>-0`, `<name>-1`, …); they share the service's references, so they compete for the same
   * queues and claim from the same outbox, which is how the services scale out.
   */
  withReplicas(count: number): this {
    if (!Number.isInteger(count) || count < 1 || count > 64)
      throw new Error(`Replica count of "${this.name}" must be an integer from 1 to 64 (got ${count})`);
    this.replicas = count;
    return this;
  }

  /** The names of this service's replicas: `<name>-<index>`. */
  replicaNames(): string[] {
    return Array.from({ length: this.replicas }, (_, i) => replicaName(this.name, i));
  }

  withEntryPoint(relativePath: string): this {
    this.entryPoint = relativePath;
    return this;
  }

  /**
   * Runs `relativePath` (in the service's folder, same loader as the service) once before each start
   * of the service and before any of its replicas: it alone gets each referenced database's owner URL
   * (`<DB>_MIGRATIONS_URI`), must exit 0, and a failure fails the service's start with its output.
   * The service itself only ever gets the runtime role, whether or not it declares migrations.
   */
  withMigrations(relativePath = "src/migrate-main.ts"): this {
    if (
      relativePath.trim() === "" ||
      path.isAbsolute(relativePath) ||
      relativePath.split(/[\\/]/).includes("..")
    )
      throw new Error(
        `Migrations entry point of "${this.name}" must be a path inside its folder (got "${relativePath}")`,
      );
    this.migrationsEntryPoint = relativePath;
    return this;
  }

  resolveDirectory(rootDir: string): string {
    return path.resolve(rootDir, this.directory);
  }
}

export function replicaName(service: string, index: number): string {
  return `${service}-${index}`;
}
