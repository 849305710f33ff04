import type { AppBuilder } from "./app-builder.js";
import { NodeAppResource } from "./node-app.js";

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

/** Sets the replica counts on the model's node apps and services; any other name is an error. */
export function applyReplicaOverrides(model: AppBuilder, overrides: Map<string, number>): void {
  const services = new Map<string, NodeAppResource>();
  for (const [name] of overrides) {
    const resource = model.resources().find((r) => r.name === name);
    if (!(resource instanceof NodeAppResource)) {
      const known = model
        .resources()
        .filter((r) => r instanceof NodeAppResource)
        .map((r) => r.name);
      throw new Error(
        `--replicas: "${name}" is not a service or node app of the model (those are: ${known.join(", ")})`,
      );
    }
    services.set(name, resource);
  }
  for (const [name, count] of overrides) services.get(name)?.withReplicas(count);
}
