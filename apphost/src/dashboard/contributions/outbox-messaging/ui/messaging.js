// The Messaging page of the outbox services' dashboard contribution: per service its outbox, blocked
// aggregates, throughput and latency, every consumer group's dead letters, and replay buttons; per
// Kafka broker of the model its topics and partitions, consumer groups with lag, and dead-letter
// topics. Dead letters are replayed through the services' API, whatever the transport.
import { api, badge, empty, every, figure, fmtDuration, h, sparkline } from "/assets/app.js";

const ROLES = {
  events: "events",
  retry: "retry tier",
  "dead-letter": "dead letters",
  "dead-letter-marks": "marks",
};
const num = (n) => h("td", { class: "num" }, n === null || n === undefined ? "–" : String(n));
/** A header row; the columns named in `numeric` are right-aligned like their figures. */
const headers = (names, numeric) =>
  h(
    "tr",
    {},
    names.map((c) => h("th", { class: numeric.includes(c) ? "num" : undefined }, c)),
  );

/** The latest count of every dead-letter source the services report, with the service that replays it. */
function latestDeadLetters(services) {
  const latest = new Map();
  for (const s of services)
    for (const sample of s.deadLetters ?? [])
      latest.set(`${s.resource} ${sample.queue}`, { resource: s.resource, ...sample });
  return [...latest.values()];
}

/**
 * The service that replays a dead-letter topic: the one whose API names it as its queue, else the one
 * group of that name (a transport may name its dead-letter source differently from the topic).
 */
function replayerOf(topic, deadLetters) {
  const named = deadLetters.find((d) => d.queue === topic.topic);
  if (named) return named;
  const byGroup = deadLetters.filter((d) => d.group === topic.group);
  return byGroup.length === 1 ? byGroup[0] : undefined;
}

/**
 * The button that replays one dead-letter source through its service's API: a group's own
 * (`?group=`, whatever the transport keeps them in), the sender's receipts, or a service's only one.
 */
function replayButton(source, replay) {
  if (source.receipts)
    return replay(source.resource, "receipt-dead-letters", "Replay dead-lettered receipts");
  if (source.group)
    return replay(source.resource, "dead-letters", `Replay ${source.group}'s dead letters`, source.group);
  return replay(source.resource, "dead-letters", "Replay dead letters");
}

/** One Kafka broker of the model: topics with their partitions' offsets, groups with lag, dead-letter topics. */
function kafkaCard(broker, deadLetters, replay) {
  const card = h(
    "div",
    { class: "card wide", "data-kafka": broker.resource },
    h("h2", {}, `Kafka ${broker.resource}`),
    h(
      "p",
      { class: "muted" },
      broker.bootstrap ?? "",
      broker.time ? ` · read ${new Date(broker.time).toLocaleTimeString([], { hour12: false })}` : "",
    ),
    broker.error ? h("p", { class: "error-text" }, broker.error) : "",
  );
  if (!broker.time) return card;
  const partitions = broker.topics.reduce((n, t) => n + t.partitions.length, 0);
  card.append(
    h(
      "div",
      { class: "figures", "data-testid": "kafka-figures" },
      figure(broker.topics.length, "topics"),
      figure(partitions, "partitions"),
      figure(broker.groups.length, "consumer groups"),
      figure(
        broker.groups.reduce((n, g) => n + g.lag, 0),
        "total lag",
      ),
      figure(
        broker.deadLetterTopics.reduce((n, d) => n + d.records, 0),
        "dead-letter records",
      ),
    ),
    h("h3", {}, "Topics"),
    h(
      "table",
      { "data-testid": "kafka-topics" },
      headers(
        ["topic", "role", "partition", "start offset", "end offset", "records"],
        ["partition", "start offset", "end offset", "records"],
      ),
      broker.topics.flatMap((t) =>
        t.partitions.map((p, i) =>
          h(
            "tr",
            { "data-topic": t.name, "data-partition": p.partition },
            i === 0 ? h("td", { rowspan: t.partitions.length }, t.name) : "",
            i === 0 ? h("td", { rowspan: t.partitions.length, class: "muted" }, ROLES[t.role] ?? t.role) : "",
            num(p.partition),
            num(p.startOffset),
            num(p.endOffset),
            num(p.records),
          ),
        ),
      ),
    ),
    h("h3", {}, "Consumer groups"),
  );
  if (broker.groups.length === 0) card.append(h("p", { class: "muted" }, "No consumer group yet."));
  for (const g of broker.groups)
    card.append(
      h(
        "h4",
        { "data-group": g.groupId, "data-lag": g.lag },
        `${g.groupId} `,
        badge(g.state, g.state === "Stable" ? "Running" : g.state === "Empty" ? "Waiting" : "Unknown"),
        ` ${g.members} member${g.members === 1 ? "" : "s"} · lag ${g.lag}`,
      ),
      g.topics.length === 0
        ? h("p", { class: "muted" }, "No committed offsets or assigned topics.")
        : h(
            "table",
            { "data-group-table": g.groupId },
            headers(
              ["topic", "partition", "committed offset", "end offset", "lag"],
              ["partition", "committed offset", "end offset", "lag"],
            ),
            g.topics.flatMap((t) => [
              ...t.partitions.map((p) =>
                h(
                  "tr",
                  { "data-group-topic": t.topic, "data-partition": p.partition, "data-lag": p.lag },
                  h("td", {}, t.topic),
                  num(p.partition),
                  num(p.committedOffset),
                  num(p.endOffset),
                  num(p.lag),
                ),
              ),
              h(
                "tr",
                { class: "total", "data-group-topic": t.topic, "data-topic-lag": t.lag },
                h("td", { colspan: 4 }, `${t.topic}: total`),
                num(t.lag),
              ),
            ]),
          ),
    );
  card.append(h("h3", {}, "Dead-letter topics"));
  if (broker.deadLetterTopics.length === 0) card.append(h("p", { class: "muted" }, "None."));
  else
    card.append(
      h(
        "table",
        { "data-testid": "kafka-dead-letter-topics" },
        headers(
          ["topic", "source", "group", "records", "dead letters (service)", ""],
          ["records", "dead letters (service)"],
        ),
        broker.deadLetterTopics.map((d) => {
          const replayer = replayerOf(d, deadLetters);
          return h(
            "tr",
            { "data-dlt": d.topic, "data-records": d.records },
            h("td", {}, d.topic),
            h("td", {}, d.source),
            h("td", {}, d.group),
            num(d.records),
            h("td", { class: "num" }, replayer ? `${replayer.count} (${replayer.resource})` : "–"),
            h(
              "td",
              {},
              replayer
                ? replayButton(replayer, replay)
                : h("span", { class: "muted" }, "no service replays it"),
            ),
          );
        }),
      ),
      h(
        "p",
        { class: "muted" },
        "Records counts everything the topic holds; the transport marks replayed and deleted ones in " +
          "<topic>-marks, so the services' count (from their dead-letter API, which also replays) can be lower.",
      ),
    );
  return card;
}

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
  const status = h("p", { class: "muted", "data-testid": "messaging-status" });
  view.replaceChildren(h("h1", {}, "Messaging"), status, holder);
  const replay = (resource, action, label, group) =>
    h(
      "button",
      {
        "data-replay": action,
        "data-group": group,
        onclick: async (event) => {
          event.target.disabled = true;
          const query = group ? `?group=${encodeURIComponent(group)}` : "";
          try {
            const path = `/api/messaging/${encodeURIComponent(resource)}/replay/${action}${query}`;
            const result = await api(path, { method: "POST" });
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
    const [services, kafka] = await Promise.all([
      api("/api/messaging?refresh=true"),
      api("/api/messaging/kafka"),
    ]);
    const deadLetters = latestDeadLetters(services);
    holder.replaceChildren(
      ...kafka.brokers.map((broker) => kafkaCard(broker, deadLetters, replay)),
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
          const latest = series.at(-1);
          const heading = latest.receipts
            ? `Dead-lettered receipts (${queue})`
            : latest.group
              ? `Dead letters of ${latest.group} (${queue})`
              : `Dead letters (${queue})`;
          card.append(
            h("h3", {}, heading),
            h("div", { class: "figures", "data-dlq": queue }, figure(latest.count, "messages")),
            sparkline(
              series.map((x) => x.count),
              `${queue} depth`,
            ),
            h("p", {}, replayButton({ resource: s.resource, ...latest }, replay)),
          );
        }
        return card;
      }),
    );
    if (services.length === 0 && kafka.brokers.length === 0)
      holder.replaceChildren(empty("No service exposes outbox or dead-letter statistics yet."));
  };
  await load();
  every(5000, () => load().catch(() => {}));
}
