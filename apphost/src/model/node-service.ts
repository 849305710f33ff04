import { nodeServiceKind } from "../kinds/node-service.js";
import { assertInsideFolder, NodeAppResource } from "./node-app.js";

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
    assertInsideFolder(this.name, "Migrations entry point", relativePath);
    this.migrationsEntryPoint = relativePath;
    return this;
  }
}
