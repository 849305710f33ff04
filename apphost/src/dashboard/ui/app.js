/* global document, window, location, history, fetch, EventSource, URLSearchParams, Node, alert, confirm, setTimeout, clearTimeout, setInterval, clearInterval, CSS */
// The dashboard's browser side: plain ES module, no framework, no build step, nothing from a CDN.
// Every view renders into <main id="view"> and registers what to close when the user navigates away.

const view = document.getElementById("view");
let cleanups = [];
const PALETTE = ["#5b3fd1", "#0e7490", "#c2410c", "#15803d", "#be185d", "#4d7c0f", "#1d4ed8", "#a16207"];
const serviceColours = new Map();

function colourOf(service) {
  // Derived from the name, so a service has the same colour on every page and after a reload.
  if (!serviceColours.has(service)) {
    let hash = 7;
    for (const char of service) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
    serviceColours.set(service, PALETTE[hash % PALETTE.length]);
  }
  return serviceColours.get(service);
}

/** Tiny element builder: h("td", { class: "x" }, "text", child). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    // Through the CSSOM: the Content-Security-Policy forbids style attributes in markup.
    else if (key === "style") el.style.cssText = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

async function api(path, options = {}) {
  const response = await fetch(path, { credentials: "same-origin", ...options });
  if (response.status === 401) {
    location.href = "/login";
    throw new Error("not logged in");
  }
  if (!response.ok) throw new Error(`${response.status} ${await response.text()}`);
  const type = response.headers.get("content-type") ?? "";
  return type.includes("json") ? response.json() : response.text();
}

function stream(path, handlers) {
  const source = new EventSource(path);
  for (const [event, handler] of Object.entries(handlers))
    source.addEventListener(event, (e) => handler(JSON.parse(e.data)));
  cleanups.push(() => source.close());
  return source;
}

function every(ms, fn) {
  const timer = setInterval(fn, ms);
  cleanups.push(() => clearInterval(timer));
}

const fmtTime = (ms) =>
  new Date(ms).toLocaleTimeString([], { hour12: false }) +
  "." +
  String(Math.floor(ms % 1000)).padStart(3, "0");
function fmtDuration(ms) {
  if (ms === null || ms === undefined) return "–";
  if (ms < 1) return `${(ms * 1000).toFixed(0)} µs`;
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return minutes < 120 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}
const badge = (text, cls = text) => h("span", { class: `badge ${cls}` }, text);
const empty = (text) => h("div", { class: "empty" }, text);
const queryString = (params) =>
  new URLSearchParams(
    Object.entries(params).filter(([, v]) => v !== "" && v !== undefined && v !== false),
  ).toString();

// ---------------------------------------------------------------- Resources

function resourcesView() {
  const table = h("table", { "data-testid": "resources" });
  view.replaceChildren(h("h1", {}, "Resources"), table);
  const render = (resources) => {
    table.replaceChildren(
      h(
        "tr",
        {},
        [
          "Name",
          "Kind",
          "State",
          "Health",
          "PID / container",
          "Uptime",
          "Endpoints",
          "Environment",
          "Actions",
        ].map((t) => h("th", {}, t)),
      ),
      ...resources.flatMap((r) => [resourceRow(r), ...(r.replicas ?? []).map((x) => replicaRow(r, x))]),
    );
  };
  stream("/api/resources/stream", { resources: render });
  // Uptime ticks even when nothing changes.
  every(5000, () => api("/api/resources").then(render, () => {}));
}

function resourceRow(r) {
  const running = r.state === "Running" || r.state === "Starting" || r.state === "Waiting";
  const controllable = r.kind !== "postgres-database" && r.kind !== "parameter" && r.external !== true;
  const action = (verb) =>
    h(
      "button",
      {
        "data-action": verb,
        disabled: (verb === "start" && running) || (verb !== "start" && !running) || !controllable,
        onclick: async (event) => {
          event.target.disabled = true;
          await api(`/api/resources/${encodeURIComponent(r.name)}/${verb}`, { method: "POST" }).catch((e) =>
            alert(e.message),
          );
        },
      },
      verb[0].toUpperCase() + verb.slice(1),
    );
  const env = r.environment
    ? h(
        "details",
        {},
        h("summary", {}, `${Object.keys(r.environment).length} variables`),
        h(
          "table",
          { class: "env" },
          Object.entries(r.environment).map(([k, v]) => h("tr", {}, h("td", {}, k), h("td", {}, v))),
        ),
      )
    : r.connectionString
      ? h("span", { class: "mono" }, r.connectionString)
      : h("span", { class: "muted" }, "–");
  const links = Object.entries(r.endpoints).map(([name, url]) =>
    url.startsWith("http")
      ? h("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, `${name}: ${url}`)
      : h("span", { class: "mono" }, `${name}: ${url}`),
  );
  if (r.kind === "node-service" && r.endpoints.http)
    links.push(
      h(
        "a",
        { href: `${r.endpoints.http}/swagger`, target: "_blank", rel: "noopener noreferrer" },
        "swagger",
      ),
    );
  if (r.parameter)
    links.push(
      r.parameter.secret
        ? h("span", { class: "mono muted", "data-testid": "parameter-value" }, "••••• (secret)")
        : h("span", { class: "mono", "data-testid": "parameter-value" }, r.parameter.value ?? "–"),
    );
  const commands = (r.commands ?? []).map((c) =>
    h(
      "button",
      {
        "data-command": c.name,
        title: c.description ?? c.label,
        disabled: r.state !== "Running",
        onclick: async (event) => {
          if (c.confirm && !confirm(c.confirm)) return;
          event.target.disabled = true;
          const path = `/api/resources/${encodeURIComponent(r.name)}/commands/${encodeURIComponent(c.name)}`;
          try {
            const result = await api(path, { method: "POST" });
            showToast(`${c.label}: ${result.message ?? "done"}`, "ok");
          } catch (error) {
            showToast(`${c.label} failed: ${error.message}`, "error");
          } finally {
            event.target.disabled = false;
          }
        },
      },
      c.label,
    ),
  );
  return h(
    "tr",
    { "data-resource": r.name, "data-state": r.state },
    h("td", {}, h("strong", {}, r.name)),
    h("td", { class: "muted" }, r.kind),
    // Why it waits or why its start failed (state.json's stateReason).
    h(
      "td",
      { "data-testid": "state", title: r.stateReason ?? "" },
      badge(r.state),
      r.state === "Waiting" || r.state === "FailedToStart"
        ? h("div", { class: "muted", "data-testid": "state-reason" }, r.stateReason ?? "")
        : null,
    ),
    h("td", { title: r.healthDetail ?? "" }, badge(r.health)),
    r.container
      ? h(
          "td",
          { class: "mono", "data-testid": "container", title: r.container.id },
          `${r.container.id.slice(0, 12)} `,
          h("span", { class: "muted" }, r.container.image),
        )
      : h("td", { class: "mono" }, r.pid ?? "–"),
    h("td", {}, r.uptimeMs === undefined ? "–" : fmtDuration(r.uptimeMs)),
    h("td", { class: "endpoints" }, links.length ? links : h("span", { class: "muted" }, "–")),
    h("td", {}, env),
    h("td", { class: "actions" }, action("start"), " ", action("stop"), " ", action("restart"), ...commands),
  );
}

// One replica of a service, indented under it; its actions address the replica by its own name.
function replicaRow(service, r) {
  const running = r.state === "Running" || r.state === "Starting";
  const action = (verb) =>
    h(
      "button",
      {
        "data-action": verb,
        disabled: (verb === "start" && running) || (verb !== "start" && !running),
        onclick: async (event) => {
          event.target.disabled = true;
          await api(`/api/resources/${encodeURIComponent(r.name)}/${verb}`, { method: "POST" }).catch((e) =>
            alert(e.message),
          );
        },
      },
      verb[0].toUpperCase() + verb.slice(1),
    );
  const links = Object.entries(r.endpoints).map(([name, url]) =>
    h("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, `${name}: ${url}`),
  );
  const uptime = r.state === "Running" && r.startedAt ? Date.now() - Date.parse(r.startedAt) : undefined;
  return h(
    "tr",
    { class: "replica", "data-replica": r.name, "data-replica-of": service.name, "data-state": r.state },
    h("td", {}, h("span", { class: "muted" }, "└ "), r.name),
    h("td", { class: "muted" }, "replica"),
    h("td", { "data-testid": "state" }, badge(r.state)),
    h("td", { title: r.healthDetail ?? "" }, badge(r.health)),
    h("td", { class: "mono" }, r.pid ?? "–"),
    h("td", {}, uptime === undefined ? "–" : fmtDuration(uptime)),
    h("td", { class: "endpoints" }, links.length ? links : h("span", { class: "muted" }, "–")),
    h("td", {}, ""),
    h("td", {}, action("start"), " ", action("stop"), " ", action("restart")),
  );
}

/** A short-lived message under the header (command results). */
function showToast(text, kind) {
  let toast = document.getElementById("toast");
  if (!toast) {
    toast = h("div", { id: "toast", role: "status", "data-testid": "toast" });
    document.body.append(toast);
  }
  toast.className = kind;
  toast.textContent = text;
  clearTimeout(showToast.timer);
  showToast.timer = setTimeout(() => toast.remove(), 8000);
}

// ---------------------------------------------------------------- Console logs

async function consoleView() {
  const params = new URLSearchParams(location.search);
  const resources = await api("/api/resources");
  const resource = h(
    "select",
    { name: "resource" },
    h("option", { value: "" }, "All resources"),
    resources.map((r) => h("option", { value: r.name, selected: params.get("resource") === r.name }, r.name)),
  );
  const text = h("input", { name: "text", placeholder: "Filter text", value: params.get("text") ?? "" });
  const level = h(
    "select",
    { name: "level" },
    ["", "debug", "info", "warn", "error"].map((l) =>
      h(
        "option",
        { value: l, selected: params.get("level") === l },
        l === "" ? "All levels" : `${l} and above`,
      ),
    ),
  );
  const download = h("a", { href: "#", download: "" }, "Download");
  const output = h("pre", { class: "console", "data-testid": "console" });
  view.replaceChildren(
    h("h1", {}, "Console logs"),
    h("div", { class: "toolbar" }, resource, text, level, download),
    output,
  );

  let source;
  const load = async () => {
    const filter = { resource: resource.value, text: text.value, level: level.value };
    history.replaceState(null, "", `/console?${queryString(filter)}`);
    download.href = `/api/console/download?${queryString(filter)}`;
    const lines = await api(`/api/console?${queryString({ ...filter, limit: 1000 })}`);
    output.replaceChildren(...lines.map(consoleLine));
    output.scrollTop = output.scrollHeight;
    source?.close();
    source = stream(`/api/console/stream?${queryString(filter)}`, {
      line: (line) => {
        const stick = output.scrollTop + output.clientHeight >= output.scrollHeight - 20;
        output.append(consoleLine(line));
        while (output.childNodes.length > 3000) output.firstChild.remove();
        if (stick) output.scrollTop = output.scrollHeight;
      },
    });
  };
  let debounce;
  text.addEventListener("input", () => {
    clearTimeout(debounce);
    debounce = setTimeout(load, 250);
  });
  resource.addEventListener("change", load);
  level.addEventListener("change", load);
  await load();
}

function consoleLine(line) {
  return h(
    "div",
    { class: `lvl-${line.level}` },
    h("span", { class: "muted" }, fmtTime(line.time), " "),
    h("span", { class: "res", style: `color:${colourOf(line.resource)}` }, line.resource.padEnd(12), " | "),
    line.text,
  );
}

// ---------------------------------------------------------------- Traces

async function tracesView() {
  const params = new URLSearchParams(location.search);
  const services = await api("/api/services");
  const service = h(
    "select",
    { name: "service" },
    h("option", { value: "" }, "All services"),
    services.map((s) => h("option", { value: s, selected: params.get("service") === s }, s)),
  );
  const errorOnly = h("input", { type: "checkbox", name: "error", checked: params.get("error") === "true" });
  const minDuration = h("input", {
    type: "number",
    name: "minDurationMs",
    min: 0,
    placeholder: "0",
    style: "width:90px",
    value: params.get("minDurationMs") ?? "",
  });
  const text = h("input", {
    name: "text",
    placeholder: "Span name or trace id",
    value: params.get("text") ?? "",
  });
  const table = h("table", { "data-testid": "traces" });
  view.replaceChildren(
    h("h1", {}, "Traces"),
    h(
      "div",
      { class: "toolbar" },
      service,
      h("label", {}, errorOnly, "errors only"),
      h("label", {}, "min duration (ms)", minDuration),
      text,
    ),
    table,
  );
  const load = async () => {
    const filter = {
      service: service.value,
      error: errorOnly.checked ? "true" : "",
      minDurationMs: minDuration.value,
      text: text.value,
    };
    history.replaceState(null, "", `/traces?${queryString(filter)}`);
    const traces = await api(`/api/traces?${queryString(filter)}`);
    table.replaceChildren(
      h(
        "tr",
        {},
        ["Time", "Name", "Services", "Spans", "Duration", ""].map((t) => h("th", {}, t)),
      ),
      ...traces.map((t) =>
        h(
          "tr",
          { class: "clickable", "data-trace": t.traceId, onclick: () => navigate(`/traces/${t.traceId}`) },
          h("td", { class: "mono" }, fmtTime(t.startMs)),
          h("td", {}, h("a", { href: `/traces/${encodeURIComponent(t.traceId)}` }, t.name)),
          h(
            "td",
            {},
            t.services.map((s) =>
              h("span", {}, h("span", { class: "svc", style: `background:${colourOf(s)}` }), s, " "),
            ),
          ),
          h("td", {}, t.spanCount),
          h("td", {}, fmtDuration(t.durationMs)),
          h("td", {}, t.error ? badge("error") : ""),
        ),
      ),
    );
    if (traces.length === 0) table.after(empty("No traces match yet."));
  };
  for (const input of [service, errorOnly, minDuration, text])
    input.addEventListener("change", () => {
      view.querySelector(".empty")?.remove();
      void load();
    });
  await load();
  every(5000, () => {
    view.querySelector(".empty")?.remove();
    return load().catch(() => {});
  });
}

async function traceView(traceId) {
  const data = await api(`/api/traces/${traceId}`);
  const spans = data.spans;
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const children = new Map();
  const roots = [];
  for (const span of spans) {
    if (span.parentSpanId && byId.has(span.parentSpanId)) {
      if (!children.has(span.parentSpanId)) children.set(span.parentSpanId, []);
      children.get(span.parentSpanId).push(span);
    } else roots.push(span);
  }
  const ordered = [];
  const walk = (span, depth) => {
    ordered.push({ span, depth });
    for (const child of (children.get(span.spanId) ?? []).sort((a, b) => a.startMs - b.startMs))
      walk(child, depth + 1);
  };
  roots.sort((a, b) => a.startMs - b.startMs).forEach((r) => walk(r, 0));
  const start = Math.min(...spans.map((s) => s.startMs));
  const total = Math.max(...spans.map((s) => s.endMs)) - start || 1;
  const services = [...new Set(spans.map((s) => s.service))];
  const detail = h("div", { class: "attrs" });
  const rows = ordered.map(({ span, depth }) => {
    const row = h(
      "div",
      { class: "row", "data-span": span.spanId, "data-service": span.service },
      h(
        "div",
        { class: "label", style: `padding-left:${8 + depth * 16}px`, title: span.name },
        h("span", { class: "svc", style: `background:${colourOf(span.service)}` }),
        span.name,
        h("span", { class: "kind" }, `${span.service} · ${span.kind}`),
      ),
      h(
        "div",
        { class: "track" },
        h("div", {
          class: `bar${span.error ? " error" : ""}`,
          style: `left:${((span.startMs - start) / total) * 100}%;width:${Math.max(0.2, (span.durationMs / total) * 100)}%;background:${colourOf(span.service)}`,
        }),
      ),
      h("div", { class: "dur" }, fmtDuration(span.durationMs)),
    );
    row.addEventListener("click", () => {
      view.querySelectorAll(".row.selected").forEach((r) => r.classList.remove("selected"));
      row.classList.add("selected");
      showSpan(detail, span);
    });
    return row;
  });
  view.replaceChildren(
    h("h1", {}, ordered[0]?.span.name ?? "Trace"),
    h(
      "p",
      { class: "muted" },
      `Trace ${traceId} · ${spans.length} spans · ${fmtDuration(total)} · services: `,
      services.map((s) =>
        h("span", {}, h("span", { class: "svc", style: `background:${colourOf(s)}` }), s, " "),
      ),
    ),
    h("div", { class: "waterfall", "data-testid": "waterfall" }, rows),
    detail,
    h("h2", {}, "Logs in this trace"),
    data.logs.length ? logTable(data.logs) : empty("No structured logs carry this trace id."),
  );
  if (ordered[0]) showSpan(detail, ordered[0].span);
}

function showSpan(target, span) {
  const attrs = {
    "span.kind": span.kind,
    "span.id": span.spanId,
    "parent.id": span.parentSpanId ?? "–",
    service: span.service,
    scope: span.scope ?? "–",
    ...span.attributes,
  };
  if (span.statusMessage) attrs["status.message"] = span.statusMessage;
  target.replaceChildren(
    h("h2", {}, `Span: ${span.name}`),
    h(
      "table",
      {},
      Object.entries(attrs).map(([k, v]) =>
        h("tr", {}, h("td", {}, k), h("td", { class: "mono" }, String(v))),
      ),
    ),
    span.events.length
      ? h(
          "div",
          {},
          h("h2", {}, "Events"),
          h(
            "table",
            {},
            span.events.map((e) =>
              h(
                "tr",
                {},
                h("td", {}, fmtTime(e.timeMs)),
                h("td", {}, e.name),
                h("td", { class: "mono" }, JSON.stringify(e.attributes)),
              ),
            ),
          ),
        )
      : "",
  );
}

// ---------------------------------------------------------------- Structured logs

function logTable(logs) {
  return h(
    "table",
    { "data-testid": "structured-logs" },
    h(
      "tr",
      {},
      ["Time", "Service", "Level", "Message", "Fields", "Trace"].map((t) => h("th", {}, t)),
    ),
    logs.map((l) =>
      h(
        "tr",
        {},
        h("td", { class: "mono nowrap" }, fmtTime(l.timeMs)),
        h(
          "td",
          { class: "nowrap" },
          h("span", { class: "svc", style: `background:${colourOf(l.service)}` }),
          l.service,
        ),
        h(
          "td",
          {},
          badge(l.severity, l.severityNumber >= 17 ? "error" : l.severityNumber >= 13 ? "Unknown" : ""),
        ),
        h("td", {}, l.body),
        h(
          "td",
          { class: "mono muted" },
          Object.entries(l.attributes)
            .map(([k, v]) => `${k}=${v}`)
            .join(" ")
            .slice(0, 300),
        ),
        h(
          "td",
          {},
          l.traceId
            ? h("a", { href: `/traces/${encodeURIComponent(l.traceId)}` }, l.traceId.slice(0, 8))
            : "",
        ),
      ),
    ),
  );
}

async function logsView() {
  const params = new URLSearchParams(location.search);
  const services = await api("/api/services");
  const service = h(
    "select",
    { name: "service" },
    h("option", { value: "" }, "All services"),
    services.map((s) => h("option", { value: s, selected: params.get("service") === s }, s)),
  );
  const level = h(
    "select",
    { name: "minSeverity" },
    [
      ["", "All levels"],
      ["5", "debug+"],
      ["9", "info+"],
      ["13", "warn+"],
      ["17", "error+"],
    ].map(([v, l]) => h("option", { value: v, selected: params.get("minSeverity") === v }, l)),
  );
  const text = h("input", { name: "text", placeholder: "Filter text", value: params.get("text") ?? "" });
  const holder = h("div");
  view.replaceChildren(
    h("h1", {}, "Structured logs"),
    h("div", { class: "toolbar" }, service, level, text),
    holder,
  );
  const load = async () => {
    const filter = {
      service: service.value,
      minSeverity: level.value,
      text: text.value,
      traceId: params.get("traceId") ?? "",
    };
    history.replaceState(null, "", `/logs?${queryString(filter)}`);
    const logs = await api(`/api/logs?${queryString({ ...filter, limit: 500 })}`);
    holder.replaceChildren(
      logs.length ? logTable(logs) : empty("No structured logs yet: services send them over OTLP."),
    );
  };
  for (const input of [service, level, text]) input.addEventListener("change", () => void load());
  await load();
  every(5000, () => load().catch(() => {}));
}

// ---------------------------------------------------------------- Metrics

// ---------------------------------------------------------------- Charts (shared with contributed pages)

function sparkline(values, label) {
  const width = 360,
    height = 60;
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("preserveAspectRatio", "none");
  const title = document.createElementNS("http://www.w3.org/2000/svg", "title");
  title.textContent = label;
  svg.append(title);
  if (values.length > 1) {
    const max = Math.max(1, ...values);
    const points = values
      .map((v, i) => `${(i / (values.length - 1)) * width},${height - 4 - (v / max) * (height - 8)}`)
      .join(" ");
    const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
    line.setAttribute("points", points);
    line.setAttribute("fill", "none");
    line.setAttribute("stroke", "#5b3fd1");
    line.setAttribute("stroke-width", "2");
    svg.append(line);
  }
  return svg;
}

const figure = (n, l) =>
  h("div", { class: "figure" }, h("div", { class: "n" }, n), h("div", { class: "l" }, l));

// ---------------------------------------------------------------- routing

// Views in modules of their own use these helpers.
export { api, badge, colourOf, empty, every, figure, fmtDuration, fmtTime, h, sparkline, stream };

function navigate(path) {
  history.pushState(null, "", path);
  void render();
}

/** A page the model's dashboard contributions add: its navigation link names its module. */
function contributedModule(section) {
  return document.querySelector(`nav a[data-nav="${CSS.escape(section)}"][data-module]`)?.dataset.module;
}

async function render() {
  for (const cleanup of cleanups.splice(0)) cleanup();
  const path = location.pathname;
  const section = path === "/" ? "resources" : path.split("/")[1];
  document
    .querySelectorAll("[data-nav]")
    .forEach((a) => a.classList.toggle("active", a.dataset.nav === section));
  view.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  try {
    const trace = /^\/traces\/([0-9a-f]{32})$/.exec(path);
    if (trace) await traceView(trace[1]);
    else if (section === "console") await consoleView();
    else if (section === "traces") await tracesView();
    else if (section === "logs") await logsView();
    else if (section === "metrics") await (await import("./metric-charts.js")).metricChartsView(view);
    else if (section === "graph") (await import("./graph.js")).graphView(view);
    else if (contributedModule(section)) await (await import(contributedModule(section))).default(view);
    else resourcesView();
    document.title = `${document.querySelector("main h1")?.textContent ?? "Dashboard"} · AppHost`;
  } catch (error) {
    view.replaceChildren(h("h1", {}, "Something went wrong"), h("p", { class: "error-text" }, error.message));
  }
}

document.addEventListener("click", (event) => {
  const link = event.target.closest?.("a[href^='/']");
  if (
    !link ||
    link.target ||
    link.hasAttribute("download") ||
    event.ctrlKey ||
    event.metaKey ||
    link.getAttribute("href").startsWith("/api/")
  )
    return;
  event.preventDefault();
  navigate(link.getAttribute("href"));
});
window.addEventListener("popstate", () => void render());
void render();
