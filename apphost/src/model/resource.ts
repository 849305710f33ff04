import {
  assertCommandName,
  type CommandHandler,
  type CommandOptions,
  type ResourceCommand,
} from "./commands.js";
import { assertResourceKind, type ResourceKindModule } from "../kinds/resource-kind.js";

/** The kinds this package declares (each by a module in `src/kinds/`). */
export type BuiltInResourceKind =
  | "postgres-server"
  | "postgres-database"
  | "artemis"
  | "kafka"
  | "node-app"
  | "node-service"
  | "container"
  | "executable"
  | "jaeger"
  | "parameter";

/**
 * A resource's kind: the name of its kind module. Open: a module outside this package adds its own
 * (`Record<never, never>` keeps editors suggesting the built-in names).
 */
export type ResourceKind = BuiltInResourceKind | (string & Record<never, never>);

/**
 * Lifecycle states, named after .NET Aspire's so its users read them without a glossary.
 * Health is reported separately: a resource can be Running and not yet Healthy.
 */
export type ResourceState =
  "NotStarted" | "Waiting" | "Starting" | "Running" | "Stopping" | "Exited" | "FailedToStart";

export type HealthStatus = "Unknown" | "Healthy" | "Unhealthy";

/** Something a service can reference: it contributes environment variables to the referencing service. */
export interface ReferenceTarget {
  readonly name: string;
  /** The name used in `ConnectionStrings__<name>` and `<NAME>_*` variables. */
  readonly connectionName: string;
  /** Told which resource references it (a broker gives each client a user of its own). */
  referencedBy?(client: string): void;
}

/**
 * Base of every resource in the model: a name, its kind module (how it runs, see
 * kinds/resource-kind.ts) and what it waits for.
 */
export abstract class Resource {
  readonly waitsFor = new Set<Resource>();
  readonly commands: ResourceCommand[] = [];

  protected constructor(
    readonly name: string,
    /** The module that declares this resource's kind: its providers and lifecycle hooks. */
    readonly kindModule: ResourceKindModule,
  ) {
    assertResourceName(name);
    assertResourceKind(kindModule);
  }

  get kind(): ResourceKind {
    return this.kindModule.name;
  }

  /** Adds a custom command: a button on the dashboard's Resources page and `apphost command <resource> <name>`. */
  withCommand(name: string, label: string, handler: CommandHandler, options: CommandOptions = {}): this {
    assertCommandName(name);
    if (this.commands.some((c) => c.name === name))
      throw new Error(`Command "${name}" is declared twice on "${this.name}"`);
    this.commands.push({ name, label, handler, ...options });
    return this;
  }

  /** Resources this one cannot start without (their own parents included). */
  dependencies(): Resource[] {
    return [...this.waitsFor];
  }
}

const RESOURCE_NAME = /^[a-z][a-z0-9-]{0,62}$/;

export function assertResourceName(name: string): void {
  if (!RESOURCE_NAME.test(name)) {
    throw new Error(
      `Invalid resource name "${name}": use lower-case letters, digits and '-', starting with a letter (max 63).`,
    );
  }
}

/** `sender-db` -> `SENDER_DB`, the prefix of Aspire-style injected variables. */
export function envPrefix(name: string): string {
  return name.toUpperCase().replace(/[^A-Z0-9]/g, "_");
}
