import type { AppBuilder } from "./app-builder.js";
import { ContainerResource } from "./container.js";
import { NodeAppResource } from "./node-app.js";
import type { Resource } from "./resource.js";

/**
 * Parses `sender=3,receiver=2` (the CLI's `--replicas`) into service → count. Throws a message
 * naming the bad part; nothing is applied unless everything parses.
 */
export function parseReplicaOverrides(text: string): Map<string, number> {
  const overrides = new Map<string, number>();
  for (const part of text.split(",").map((p) => p.trim())) {
    const match = /^([a-z][a-z0-9-]*)=(\d+)$/.exec(part);
    if (!match) throw new Error(`--replicas expects service=count[,service=count…] (bad part: "${part}")`);
    const [, name = "", count = ""] = match;
    if (overrides.has(name)) throw new Error(`--replicas names "${name}" twice`);
    overrides.set(name, Number(count));
  }
  return overrides;
}

/** A resource that runs as several instances: a Node app or service, a container. */
interface Replicable {
  readonly name: string;
  withReplicas(count: number): unknown;
}

function isReplicable(resource: Resource): resource is Resource & Replicable {
  return resource instanceof NodeAppResource || resource instanceof ContainerResource;
}

/**
 * Sets the replica counts on the model's node apps, services and containers; any other name is an
 * error, and nothing is changed unless every name and count is valid.
 */
export function applyReplicaOverrides(model: AppBuilder, overrides: Map<string, number>): void {
  const targets = new Map<string, Replicable>();
  for (const [name, count] of overrides) {
    const resource = model.resources().find((r) => r.name === name);
    if (resource === undefined || !isReplicable(resource)) {
      const known = model
        .resources()
        .filter(isReplicable)
        .map((r) => r.name);
      throw new Error(
        `--replicas: "${name}" is not a service, node app or container of the model (those are: ${known.join(", ")})`,
      );
    }
    if (!Number.isInteger(count) || count < 1 || count > 64)
      throw new Error(`Replica count of "${name}" must be an integer from 1 to 64 (got ${count})`);
    targets.set(name, resource);
  }
  for (const [name, count] of overrides) targets.get(name)?.withReplicas(count);
}
