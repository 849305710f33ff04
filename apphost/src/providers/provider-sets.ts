import { ArtemisResource } from "../model/artemis.js";
import { ContainerResource } from "../model/container.js";
import { ExecutableResource } from "../model/executable.js";
import { NodeAppResource } from "../model/node-app.js";
import { PostgresDatabaseResource, PostgresServerResource } from "../model/postgres.js";
import type { Resource } from "../model/resource.js";
import type { ProviderSet } from "../runtime/provider.js";
import { ArtemisContainerProvider } from "./container/artemis-container.js";
import { configureRyuk } from "./container/container-runtime.js";
import { removeContainers, removeVolumes, type Owner } from "./container/docker-objects.js";
import { GenericContainerProvider } from "./container/generic-container.js";
import { PostgresContainerProvider } from "./container/postgres-container.js";
import { PostgresDatabaseProvider } from "./postgres-database.js";
import { ArtemisProcessProvider } from "./process/artemis-process.js";
import { ExecutableProcessProvider } from "./process/executable-process.js";
import { NodeAppProcessProvider } from "./process/node-service-process.js";
import { PostgresProcessProvider } from "./process/postgres-process.js";

function unsupported(resource: Resource, mode: string): never {
  if (resource instanceof ContainerResource) {
    throw new Error(
      `"${resource.name}" is a container (${resource.image}): it runs in container mode only (--mode container, with a Docker engine)`,
    );
  }
  throw new Error(`No ${mode} provider for resource "${resource.name}" (kind "${resource.kind}")`);
}

/** Everything as local processes. */
export function processProviders(): ProviderSet {
  const postgres = new PostgresProcessProvider();
  const database = new PostgresDatabaseProvider();
  const artemis = new ArtemisProcessProvider();
  const node = new NodeAppProcessProvider();
  const executable = new ExecutableProcessProvider();
  return {
    mode: "process",
    providerFor(resource) {
      if (resource instanceof ExecutableResource) return executable;
      if (resource instanceof PostgresServerResource) return postgres;
      if (resource instanceof PostgresDatabaseResource) return database;
      if (resource instanceof ArtemisResource) return artemis;
      if (resource instanceof NodeAppResource) return node;
      return unsupported(resource, "process");
    },
    prepare: () => Promise.resolve(),
    dispose: () => Promise.resolve(),
  };
}

/** Infrastructure as containers (Testcontainers); services stay host Node processes, as Aspire runs projects. */
export function containerProviders(owner: Owner): ProviderSet {
  const postgres = new PostgresContainerProvider(owner);
  const database = new PostgresDatabaseProvider();
  const artemis = new ArtemisContainerProvider(owner);
  const node = new NodeAppProcessProvider();
  const executable = new ExecutableProcessProvider();
  const generic = new GenericContainerProvider(owner);
  return {
    mode: "container",
    providerFor(resource) {
      if (resource instanceof ExecutableResource) return executable;
      if (resource instanceof ContainerResource) return generic;
      if (resource instanceof PostgresServerResource) return postgres;
      if (resource instanceof PostgresDatabaseResource) return database;
      if (resource instanceof ArtemisResource) return artemis;
      if (resource instanceof NodeAppResource) return node;
      return unsupported(resource, "container");
    },
    async prepare({ fresh, log }) {
      await configureRyuk(log);
      // Containers of this state directory that still exist were left by an AppHost that was
      // killed (a live one would have been refused before this point).
      for (const removed of await removeContainers(owner.stateDir))
        log(`removed container left over from an earlier run: ${removed}`);
      if (fresh)
        for (const removed of await removeVolumes(owner.stateDir)) log(`--fresh: removed volume ${removed}`);
    },
    async dispose(log) {
      for (const removed of await removeContainers(owner.stateDir, owner.runId))
        log(`removed container still present at stop: ${removed}`);
    },
  };
}

export function createProviders(mode: "process" | "container", owner: Owner): ProviderSet {
  return mode === "container" ? containerProviders(owner) : processProviders();
}
