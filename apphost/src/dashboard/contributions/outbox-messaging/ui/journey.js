/* global location, history, URLSearchParams */
// The message journey page: one message's life on one timeline, from an entity id, an outbox
// message id or a trace id. The server assembles it from the services' own APIs and the telemetry.
import { api, badge, empty, fmtDuration, fmtTime, h, colourOf } from "/assets/app.js";

const STAGE_LABELS = {
  created: "Created",
  outbox: "Outbox",
  broker: "Broker",
  queue: "Queue",
  failure: "Failure",
  dlq: "Dead letter",
  applied: "Applied",
  receipt: "Receipt",
  delivered: "Delivered",
};

export default async function journeyView(view) {
  const params = new URLSearchParams(location.search);
  const input = h("input", {
    type: "search",
    name: "q",
    placeholder: "entity id, outbox message id or trace id",
    value: params.get("q") ?? "",
    size: 48,
    "data-testid": "journey-query",
  });
  const result = h("div", { "data-testid": "journey" });
  const form = h(
    "form",
    {
      class: "filters",
      onsubmit: (event) => {
        event.preventDefault();
        history.replaceState(null, "", `/journey?q=${encodeURIComponent(input.value.trim())}`);
        void load();
      },
    },
    input,
    h("button", { type: "submit", class: "primary" }, "Show journey"),
  );
  view.replaceChildren(
    h("h1", {}, "Message journey"),
    h(
      "p",
      { class: "muted" },
      "Everything one message went through: written, published, queued per group, applied, receipt, delivered.",
    ),
    form,
    result,
  );
  const load = async () => {
    const q = input.value.trim();
    if (!q) return result.replaceChildren(empty("Paste an id to follow a message."));
    result.replaceChildren(h("p", { class: "muted" }, "Looking…"));
    const journey = await api(`/api/journey?q=${encodeURIComponent(q)}`);
    if (journey.messages.length === 0)
      return result.replaceChildren(
        empty(`Nothing found for ${q}: no service knows this entity or message, and no trace mentions one.`),
      );
    result.replaceChildren(
      ...journey.problems.map((p) => h("p", { class: "error-text" }, p)),
      ...journey.messages.map((m) => messageCard(m)),
      spansCard(journey),
    );
  };
  await load();
}

function messageCard(m) {
  const traceLinks = m.traceId
    ? [
        h("a", { href: `/traces/${encodeURIComponent(m.traceId)}`, "data-testid": "journey-trace" }, "trace"),
        " · ",
        h("a", { href: `/logs?traceId=${encodeURIComponent(m.traceId)}` }, "logs"),
      ]
    : [];
  return h(
    "section",
    { class: "card journey", "data-message": m.messageId, "data-status": m.status },
    h("h2", {}, `${m.type} `, h("span", { class: "mono muted" }, m.messageId), " ", badge(m.status)),
    h("p", { class: "muted" }, `entity ${m.aggregateId} · `, ...traceLinks),
    m.waitingFor.length ? h("p", {}, `Not applied yet by: ${m.waitingFor.join(", ")}`) : "",
    h(
      "ol",
      { class: "timeline" },
      m.events.map((e) =>
        h(
          "li",
          { class: `step ${e.outcome}`, "data-stage": e.stage, "data-group": e.group },
          h("span", { class: "when mono" }, fmtTime(Date.parse(e.time))),
          h("span", { class: "stage" }, STAGE_LABELS[e.stage] ?? e.stage),
          h("span", { class: "service", style: `color: ${colourOf(e.service)}` }, e.service),
          h(
            "span",
            { class: "what" },
            e.title,
            e.detail ? h("span", { class: "muted" }, ` — ${e.detail}`) : "",
          ),
        ),
      ),
    ),
  );
}

function spansCard(journey) {
  if (journey.spans.length === 0)
    return h(
      "section",
      { class: "card" },
      h("h2", {}, "Telemetry"),
      empty("No spans received for this message yet."),
    );
  const start = journey.spans[0].startMs;
  return h(
    "section",
    { class: "card", "data-testid": "journey-spans" },
    h("h2", {}, "Telemetry"),
    h("p", { class: "muted" }, `${journey.spans.length} spans, ${journey.logCount} log records`),
    h(
      "table",
      {},
      h(
        "tr",
        {},
        ["+", "Service", "Span", "Kind", "Duration"].map((t) => h("th", {}, t)),
      ),
      journey.spans.map((s) =>
        h(
          "tr",
          { class: s.error ? "error" : "" },
          h("td", { class: "mono" }, `+${fmtDuration(s.startMs - start)}`),
          h("td", { style: `color: ${colourOf(s.service)}` }, s.service),
          h("td", {}, h("a", { href: `/traces/${encodeURIComponent(s.traceId)}` }, s.name)),
          h("td", { class: "muted" }, s.kind),
          h("td", { class: "mono" }, fmtDuration(s.durationMs)),
        ),
      ),
    ),
  );
}
