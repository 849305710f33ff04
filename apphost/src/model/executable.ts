import { executableKind } from "../kinds/executable.js";
import type { DatabaseRole } from "../runtime/environment.js";
import { recordDatabaseRole, type ReferenceOptions } from "./node-app.js";
import { Resource, type ReferenceTarget } from "./resource.js";

/**
 * Any program on the host as a resource (Aspire's AddExecutable): run with the injected
 * environment like a service, in every mode. With an HTTP endpoint it gets a port in `PORT`.
 */
export class ExecutableResource extends Resource {
  readonly references: ReferenceTarget[] = [];
  /** The database roles the model chose per referenced database (`withReference(db, { role })`). */
  readonly databaseRoles = new Map<string, DatabaseRole>();
  readonly environment = new Map<string, string>();
  workingDirectory: string | undefined;
  httpEndpoint: { port?: number } | undefined;
  healthCheckPath: string | undefined;

  constructor(
    name: string,
    readonly command: string,
    readonly args: string[] = [],
  ) {
    super(name, executableKind);
    if (!command) throw new Error(`Executable "${name}" needs a command`);
  }

  /**
   * Injects the target's connection information or service-discovery URLs. A database's
   * credentials are its owner's unless `{ role: "runtime" }` (the program creates its own tables).
   */
  withReference(target: ReferenceTarget, options: ReferenceOptions = {}): this {
    recordDatabaseRole(this.name, target, options, this.databaseRoles);
    this.references.push(target);
    target.referencedBy?.(this.name);
    return this;
  }

  /** The role this program connects to a referenced database as. */
  databaseRole(database: string): DatabaseRole {
    return this.databaseRoles.get(database) ?? "owner";
  }

  waitFor(dependency: Resource): this {
    this.waitsFor.add(dependency);
    return this;
  }

  withEnvironment(name: string, value: string | number | boolean): this {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
      throw new Error(`Invalid environment variable name "${name}"`);
    this.environment.set(name, String(value));
    return this;
  }

  /** Relative to the repository root, or absolute (default: the repository root). */
  withWorkingDirectory(directory: string): this {
    this.workingDirectory = directory;
    return this;
  }

  /** A port for the program, passed in `PORT` (kept across runs when free). */
  withHttpEndpoint(options: { port?: number } = {}): this {
    this.httpEndpoint = options;
    return this;
  }

  withHttpHealthCheck(path: string): this {
    if (!path.startsWith("/")) throw new Error(`Health check path must start with '/': "${path}"`);
    this.healthCheckPath = path;
    return this;
  }

  get connectionName(): string {
    return this.name;
  }
}
