import type { NodeServiceResource } from "../model/node-service.js";
import { nodeAppProvider } from "./node-app.js";
import { defineResourceKind } from "./resource-kind.js";

/** A Node app with service defaults, and optionally a migrations step before each of its starts. */
export const nodeServiceKind = defineResourceKind<NodeServiceResource>({
  name: "node-service",
  processProvider: nodeAppProvider,
  containerProvider: nodeAppProvider,
  // Once per start of the service, before any replica: the only process with the owner's URL.
  async beforeStart(service, context) {
    if (service.migrationsEntryPoint === undefined) return;
    const { runServiceMigrations } = await import("../providers/process/node-service-migrations.js");
    await runServiceMigrations(service, context);
  },
});
