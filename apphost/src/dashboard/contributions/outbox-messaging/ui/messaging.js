// The Messaging page of the outbox services' dashboard contribution: per service its outbox, blocked
// aggregates, throughput and latency, every consumer group's dead-letter queue, and replay buttons.
import { api, empty, every, figure, fmtDuration, h, sparkline } from "/assets/app.js";

/**
 * Aggregates the sender's outbox stopped at a dead message: their later messages wait at the sender
 * (never a version gap at the receivers) until the dead one is retried.
 */
function blockedAggregates(blocked) {
  const heading = h("h3", {}, `Blocked aggregates (${blocked.total})`);
  if (blocked.total === 0)
    return [heading, h("p", { class: "muted", "data-testid": "blocked-aggregates" }, "None.")];
  const rows = blocked.items.map((b) =>
    h(
      "tr",
      { "data-aggregate": b.aggregateId },
      h("td", {}, `${b.aggregateType} ${b.aggregateId}`),
      h("td", { title: b.deadMessage.id }, `${b.deadMessage.type} ${b.deadMessage.id}`),
      h("td", {}, String(b.waiting)),
      h(
        "td",
        { title: b.blockedSince },
        `${fmtDuration(Math.max(0, Date.now() - Date.parse(b.blockedSince)))} ago`,
      ),
      h("td", { class: "muted" }, b.deadMessage.lastError ?? ""),
    ),
  );
  return [
    heading,
    h(
      "p",
      { class: "muted" },
      "Each aggregate stopped at a dead message; its later messages wait at the sender, so no receiver sees a gap. " +
        "Retrying the dead message (Replay dead outbox messages, or POST /api/outbox/messages/{id}/retry) releases them in order.",
    ),
    h(
      "table",
      { "data-testid": "blocked-aggregates" },
      h(
        "tr",
        {},
        ["aggregate", "dead message", "waiting", "blocked since", "last error"].map((c) => h("th", {}, c)),
      ),
      rows,
    ),
    blocked.total > blocked.items.length
      ? h(
          "p",
          { class: "muted" },
          `${blocked.total - blocked.items.length} more not shown (GET /api/outbox/blocked)`,
        )
      : "",
  ];
}

export default async function messagingView(view) {
  const holder = h("div", { class: "cards", "data-testid": "messaging" });
  const status = h("p", { class: "muted" });
  view.replaceChildren(h("h1", {}, "Messaging"), status, holder);
  const replay = (resource, action, label) =>
    h(
      "button",
      {
        "data-replay": action,
        onclick: async (event) => {
          event.target.disabled = true;
          try {
            const result = await api(`/api/messaging/${encodeURIComponent(resource)}/replay/${action}`, {
              method: "POST",
            });
            status.textContent = `${label}: ${typeof result === "object" ? JSON.stringify(result) : result || "done"}`;
          } catch (e) {
            status.textContent = `${label} failed: ${e.message}`;
          }
          await load();
        },
      },
      label,
    );
  const load = async () => {
    const services = await api("/api/messaging?refresh=true");
    holder.replaceChildren(
      ...services.map((s) => {
        const card = h(
          "div",
          { class: "card", "data-service": s.resource },
          h("h2", {}, s.resource),
          s.error ? h("p", { class: "error-text" }, s.error) : "",
        );
        const latest = s.outbox?.at(-1);
        if (latest) {
          card.append(
            h("h3", {}, "Outbox"),
            h(
              "div",
              { class: "figures" },
              Object.entries(latest.counts).map(([k, v]) => figure(v, k)),
              figure(
                latest.oldestPendingAgeMs === null ? "–" : fmtDuration(latest.oldestPendingAgeMs),
                "oldest pending",
              ),
            ),
            h("div", { class: "muted" }, "pending over time"),
            sparkline(
              s.outbox.map((x) => x.counts.pending ?? 0),
              "pending",
            ),
            h("div", { class: "muted" }, "oldest pending age over time"),
            sparkline(
              s.outbox.map((x) => x.oldestPendingAgeMs ?? 0),
              "oldest pending age",
            ),
            h("p", {}, replay(s.resource, "outbox-dead", "Replay dead outbox messages")),
          );
        }
        if (s.blocked) card.append(...blockedAggregates(s.blocked));
        const flow = s.flow?.at(-1);
        if (flow) {
          const perMinute = (x) => Math.round((x.published * 60_000) / x.windowMs);
          card.append(
            h("h3", {}, "Throughput and latency (last minute, rolling)"),
            h(
              "div",
              { class: "figures", "data-testid": "flow" },
              figure(perMinute(flow), "published / min"),
              figure(Math.round((flow.delivered * 60_000) / flow.windowMs), "delivered / min"),
              figure(fmtDuration(flow.commitToPublishedP95Ms), "commit → published p95"),
              figure(fmtDuration(flow.commitToDeliveredP95Ms), "commit → applied + receipt p95"),
            ),
            h("div", { class: "muted" }, "published per minute over time"),
            sparkline(s.flow.map(perMinute), "published per minute"),
            h("div", { class: "muted" }, "commit → applied (delivery receipt) p95 over time"),
            sparkline(
              s.flow.map((x) => x.commitToDeliveredP95Ms ?? 0),
              "commit to delivered p95",
            ),
          );
        }
        const queues = [...new Set((s.deadLetters ?? []).map((x) => x.queue))];
        for (const queue of queues) {
          const series = s.deadLetters.filter((x) => x.queue === queue);
          card.append(
            h("h3", {}, `Dead-letter queue ${queue}`),
            h("div", { class: "figures", "data-dlq": queue }, figure(series.at(-1).count, "messages")),
            sparkline(
              series.map((x) => x.count),
              `${queue} depth`,
            ),
          );
        }
        if (queues.length) card.append(h("p", {}, replay(s.resource, "dead-letters", "Replay dead letters")));
        return card;
      }),
    );
    if (services.length === 0)
      holder.replaceChildren(empty("No service exposes outbox or dead-letter statistics yet."));
  };
  await load();
  every(5000, () => load().catch(() => {}));
}
