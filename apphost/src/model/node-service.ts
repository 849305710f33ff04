import { nodeServiceKind } from "../kinds/node-service.js";
import type { DatabaseRole } from "../runtime/environment.js";
import { assertInsideFolder, NodeAppResource, type ReferenceOptions } from "./node-app.js";
import type { ReferenceTarget } from "./resource.js";

export { replicaName, type HttpEndpointOptions } from "./node-app.js";

/**
 * A Node.js service of this repository: a Node app with service defaults (tsx loader, telemetry
 * hooks, `ADMIN_TOKEN`), its entry point `src/main.ts` and, optionally, a migrations step.
 */
export class NodeServiceResource extends NodeAppResource {
  entryPoint = "src/main.ts";
  /**
   * The service's migrations entry point (`withMigrations`): run as a one-shot step with the database
   * owner's credentials before each start of the service, never by the long-running processes.
   */
  migrationsEntryPoint: string | undefined;

  constructor(name: string, directory: string) {
    super(name, directory, {}, nodeServiceKind);
    this.serviceDefaults = true;
  }

  protected override configuredEntry(): string {
    return this.entryPoint;
  }

  /**
   * A service connects to its databases as the runtime role: its tables are made by its
   * migrations step. Without one, `withReference(db, { role: "owner" })` lets it create them itself.
   */
  override databaseRole(database: string): DatabaseRole {
    return this.databaseRoles.get(database) ?? "runtime";
  }

  override withReference(target: ReferenceTarget | NodeAppResource, options: ReferenceOptions = {}): this {
    if (options.role === "owner" && this.migrationsEntryPoint !== undefined)
      throw ownerWithMigrations(this.name);
    return super.withReference(target, options);
  }

  withEntryPoint(relativePath: string): this {
    this.entryPoint = relativePath;
    return this;
  }

  /**
   * Runs `relativePath` (in the service's folder, same loader as the service) once before each start
   * of the service and before any of its replicas: it alone gets each referenced database's owner URL
   * (`<DB>_MIGRATIONS_URI`), must exit 0, and a failure fails the service's start with its output.
   * The service itself gets the runtime role only.
   */
  withMigrations(relativePath = "src/migrate-main.ts"): this {
    assertInsideFolder(this.name, "Migrations entry point", relativePath);
    if ([...this.databaseRoles.values()].includes("owner")) throw ownerWithMigrations(this.name);
    this.migrationsEntryPoint = relativePath;
    return this;
  }
}

function ownerWithMigrations(service: string): Error {
  return new Error(
    `"${service}" declares withMigrations, so only its migrations step gets the database owner: ` +
      `drop { role: "owner" } from its withReference (the service connects as the runtime role)`,
  );
}
