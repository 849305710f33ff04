/* global document */
// The resource graph: who waits for whom (waitFor / withReference), coloured by live state.
import { h, stream } from "./app.js";

const SVG = "http://www.w3.org/2000/svg";
const COLUMN = 190;
const ROW = 64;

function svg(tag, attrs = {}, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

/** Column = length of the longest dependency chain below a resource: dependencies sit left of dependents. */
export function layout(resources) {
  const byName = new Map(resources.map((r) => [r.name, r]));
  const depth = new Map();
  const depthOf = (name, seen = new Set()) => {
    if (depth.has(name)) return depth.get(name);
    if (seen.has(name)) return 0;
    seen.add(name);
    const deps = (byName.get(name)?.dependsOn ?? []).filter((d) => byName.has(d));
    const d = deps.length ? 1 + Math.max(...deps.map((x) => depthOf(x, seen))) : 0;
    depth.set(name, d);
    return d;
  };
  const columns = new Map();
  for (const r of resources) {
    const d = depthOf(r.name);
    columns.set(d, [...(columns.get(d) ?? []), r.name]);
  }
  const positions = new Map();
  for (const [d, names] of columns)
    names.forEach((name, i) => positions.set(name, { x: 20 + d * COLUMN, y: 20 + i * ROW }));
  return positions;
}

export function graphView(view) {
  const holder = h("div", { class: "graph", "data-testid": "graph" });
  view.replaceChildren(
    h("h1", {}, "Resource graph"),
    h(
      "p",
      { class: "muted" },
      "Arrows point from a resource to what it waits for; colours follow the live state.",
    ),
    holder,
  );
  const render = (resources) => {
    const positions = layout(resources);
    const width = Math.max(...[...positions.values()].map((p) => p.x)) + COLUMN;
    const height = Math.max(...[...positions.values()].map((p) => p.y)) + ROW;
    const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img" });
    root.append(svg("defs", {}));
    const marker = svg("marker", {
      id: "arrow",
      viewBox: "0 0 10 10",
      refX: 10,
      refY: 5,
      markerWidth: 8,
      markerHeight: 8,
      orient: "auto-start-reverse",
    });
    marker.append(svg("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrow-head" }));
    root.firstChild.append(marker);
    for (const r of resources)
      for (const dep of r.dependsOn ?? []) {
        const from = positions.get(r.name);
        const to = positions.get(dep);
        if (!from || !to) continue;
        root.append(
          svg("line", {
            x1: from.x,
            y1: from.y + 18,
            x2: to.x + 150,
            y2: to.y + 18,
            class: "edge",
            "data-edge": `${r.name}->${dep}`,
            "marker-end": "url(#arrow)",
          }),
        );
      }
    for (const r of resources) {
      const p = positions.get(r.name);
      if (!p) continue;
      const state = r.state === "Running" && r.health !== "Healthy" ? "Unhealthy" : r.state;
      const node = svg("g", {
        class: `node state-${state}`,
        "data-node": r.name,
        "data-state": r.state,
        transform: `translate(${p.x},${p.y})`,
      });
      node.append(
        svg("rect", { width: 150, height: 36, rx: 6 }),
        svg("text", { x: 10, y: 15, class: "name" }, r.name),
        svg("text", { x: 10, y: 29, class: "kind" }, `${r.kind} · ${r.state}`),
      );
      root.append(node);
    }
    holder.replaceChildren(root);
  };
  stream("/api/resources/stream", { resources: render });
}
