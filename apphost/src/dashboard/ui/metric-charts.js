/* global document, location, history, URLSearchParams */
// Metrics with history: one chart per metric (a line per attribute set), over a chosen range that
// lives in the URL (?range=15m) so a view can be shared.
import { api, colourOf, empty, every, fmtTime, h } from "./app.js";

const RANGES = { "5m": 5 * 60_000, "15m": 15 * 60_000, "1h": 60 * 60_000, "6h": 6 * 60 * 60_000 };
const SVG = "http://www.w3.org/2000/svg";
const PALETTE = ["#5b3fd1", "#0e7490", "#c2410c", "#15803d", "#be185d", "#4d7c0f"];

function el(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function fmtValue(v) {
  if (Math.abs(v) >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (Math.abs(v) >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

/** A time-series chart: x = time over the range, y = value, one polyline per attribute set. */
function chart(points, fromMs, toMs) {
  const width = 520,
    height = 140,
    left = 44,
    bottom = 18;
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img" });
  const series = new Map();
  for (const p of points) {
    const key = Object.entries(p.attributes)
      .map(([k, v]) => `${k}=${v}`)
      .join(" ");
    series.set(key, [...(series.get(key) ?? []), p]);
  }
  const values = points.map((p) => p.value);
  const max = Math.max(...values, 0);
  const min = Math.min(...values, 0);
  const span = max - min || 1;
  const x = (t) => left + ((t - fromMs) / Math.max(1, toMs - fromMs)) * (width - left - 4);
  const y = (v) => 4 + (1 - (v - min) / span) * (height - bottom - 8);
  svg.append(
    el("line", { x1: left, y1: height - bottom, x2: width, y2: height - bottom, class: "axis" }),
    el("line", { x1: left, y1: 0, x2: left, y2: height - bottom, class: "axis" }),
    el("text", { x: left - 4, y: 12, "text-anchor": "end", class: "tick" }, fmtValue(max)),
    el("text", { x: left - 4, y: height - bottom, "text-anchor": "end", class: "tick" }, fmtValue(min)),
    el("text", { x: left, y: height - 4, class: "tick" }, fmtTime(fromMs)),
    el("text", { x: width - 4, y: height - 4, "text-anchor": "end", class: "tick" }, fmtTime(toMs)),
  );
  [...series.values()].forEach((list, i) => {
    const line = el("polyline", {
      points: list.map((p) => `${x(p.timeMs).toFixed(1)},${y(p.value).toFixed(1)}`).join(" "),
      fill: "none",
      stroke: PALETTE[i % PALETTE.length],
      "stroke-width": 1.8,
    });
    svg.append(line);
  });
  return { svg, keys: [...series.keys()] };
}

export async function metricChartsView(view) {
  const params = new URLSearchParams(location.search);
  let range = RANGES[params.get("range")] ? params.get("range") : "15m";
  const picker = h(
    "select",
    {
      "data-testid": "metric-range",
      onchange: () => {
        range = picker.value;
        history.replaceState(null, "", `/metrics?range=${range}`);
        void load();
      },
    },
    Object.keys(RANGES).map((r) => h("option", { value: r, selected: r === range }, `last ${r}`)),
  );
  const holder = h("div", { class: "charts", "data-testid": "metric-charts" });
  view.replaceChildren(
    h("h1", {}, "Metrics"),
    h("p", { class: "muted" }, "Every metric the services export over OTLP, over time. Range: ", picker),
    holder,
  );
  const load = async () => {
    const latest = await api("/api/metrics");
    const metrics = [...new Map(latest.map((p) => [`${p.service}|${p.name}`, p])).values()];
    if (metrics.length === 0) return holder.replaceChildren(empty("No metrics yet."));
    const toMs = Date.now();
    const fromMs = toMs - RANGES[range];
    const cards = await Promise.all(
      metrics.map(async (m) => {
        const points = await api(
          `/api/metrics/series?service=${encodeURIComponent(m.service)}&name=${encodeURIComponent(m.name)}&rangeMs=${RANGES[range]}`,
        );
        const { svg, keys } = chart(points, fromMs, toMs);
        return h(
          "section",
          {
            class: "card metric",
            "data-metric": m.name,
            "data-service": m.service,
            "data-points": points.length,
          },
          h(
            "h3",
            {},
            h("span", { style: `color: ${colourOf(m.service)}` }, m.service),
            " ",
            h("span", { class: "mono" }, m.name),
          ),
          h(
            "div",
            { class: "muted" },
            `${m.type}${m.unit ? `, ${m.unit}` : ""} · latest ${fmtValue(m.value)} · ${points.length} points`,
          ),
          svg,
          keys.length > 1 || keys[0]
            ? h(
                "div",
                { class: "muted mono legend" },
                keys.map((k, i) =>
                  h("div", { style: `color: ${PALETTE[i % PALETTE.length]}` }, k || "(no attributes)"),
                ),
              )
            : "",
        );
      }),
    );
    holder.replaceChildren(...cards);
  };
  await load();
  every(10_000, () => load().catch(() => {}));
}
