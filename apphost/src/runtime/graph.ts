import type { Resource } from "../model/resource.js";

/**
 * Orders resources so that each comes after everything it depends on.
 * Throws on a cycle, naming it, because a cycle would make start-up wait forever.
 */
export function startOrder(resources: readonly Resource[]): Resource[] {
  const ordered: Resource[] = [];
  const state = new Map<Resource, "visiting" | "done">();

  const visit = (resource: Resource, trail: Resource[]): void => {
    const mark = state.get(resource);
    if (mark === "done") return;
    if (mark === "visiting") {
      const cycle = [...trail.slice(trail.indexOf(resource)), resource].map((r) => r.name).join(" -> ");
      throw new Error(`Dependency cycle: ${cycle}`);
    }
    state.set(resource, "visiting");
    for (const dependency of resource.dependencies()) visit(dependency, [...trail, resource]);
    state.set(resource, "done");
    ordered.push(resource);
  };

  for (const resource of resources) visit(resource, []);
  return ordered;
}

/** Resources that depend on `target`, directly or not (stopped before it, restarted after it). */
export function dependentsOf(target: Resource, resources: readonly Resource[]): Resource[] {
  const result = new Set<Resource>();
  let changed = true;
  while (changed) {
    changed = false;
    for (const r of resources) {
      if (result.has(r) || r === target) continue;
      if (r.dependencies().some((d) => d === target || result.has(d))) {
        result.add(r);
        changed = true;
      }
    }
  }
  return [...result];
}
