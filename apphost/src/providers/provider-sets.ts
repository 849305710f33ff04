import type { KindProviderContext, ResourceKindModule } from "../kinds/resource-kind.js";
import type { Resource } from "../model/resource.js";
import type { ProviderSet, ResourceProvider } from "../runtime/provider.js";
import { configureRyuk } from "./container/container-runtime.js";
import { removeContainers, removeVolumes, type Owner } from "./container/docker-objects.js";

/**
 * Each resource's provider in `mode`, from its kind module (model/resource.ts: every resource
 * carries one): one provider per kind and run, made when the kind's first resource starts.
 */
export function kindProviders(
  mode: "process" | "container",
  owner: Owner,
): (resource: Resource) => ResourceProvider {
  const context: KindProviderContext = { mode, owner };
  const made = new Map<ResourceKindModule, ResourceProvider>();
  return (resource) => {
    const kind = resource.kindModule;
    let provider = made.get(kind);
    if (provider === undefined) {
      provider = mode === "process" ? kind.processProvider?.(context) : kind.containerProvider?.(context);
      if (provider === undefined) unsupported(resource, mode);
      made.set(kind, provider);
    }
    return provider;
  };
}

/** The error for a resource whose kind does not run in `mode`, saying which mode it needs. */
function unsupported(resource: Resource, mode: "process" | "container"): never {
  const kind = resource.kindModule;
  const what = `"${resource.name}" is a ${kind.name} resource`;
  if (mode === "process" && kind.containerProvider)
    throw new Error(`${what}: it runs in container mode only (--mode container, with a Docker engine)`);
  if (mode === "container" && kind.processProvider)
    throw new Error(`${what}: it runs in process mode only (--mode process)`);
  throw new Error(`No ${mode} provider for resource "${resource.name}" (kind "${kind.name}")`);
}

/** Everything as local processes. */
export function processProviders(owner: Owner): ProviderSet {
  return {
    mode: "process",
    providerFor: kindProviders("process", owner),
    prepare: () => Promise.resolve(),
    dispose: () => Promise.resolve(),
  };
}

/** Infrastructure as containers (Testcontainers); services stay host Node processes, as Aspire runs projects. */
export function containerProviders(owner: Owner): ProviderSet {
  return {
    mode: "container",
    providerFor: kindProviders("container", owner),
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
  return mode === "container" ? containerProviders(owner) : processProviders(owner);
}
