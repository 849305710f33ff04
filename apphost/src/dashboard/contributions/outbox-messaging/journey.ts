import type { LogRecord, SpanRecord } from "../../otlp-json.js";

/** One step of a message's life, from whichever service or signal saw it. */
export interface JourneyEvent {
  time: string;
  stage: "created" | "outbox" | "broker" | "queue" | "applied" | "failure" | "dlq" | "receipt" | "delivered";
  service: string;
  title: string;
  detail?: string;
  /** Consumer group, for the per-group steps. */
  group?: string;
  outcome: "ok" | "error" | "waiting";
}

export interface MessageJourney {
  messageId: string;
  type: string;
  status: string;
  aggregateId: string;
  traceId?: string;
  events: JourneyEvent[];
  /** Groups that have not applied the message yet. */
  waitingFor: string[];
}

export interface Journey {
  query: string;
  kind: "entity" | "message" | "trace" | "none";
  entityId?: string;
  messages: MessageJourney[];
  /** Spans of the messages' traces (the trace view link), oldest first. */
  spans: Array<
    Pick<SpanRecord, "traceId" | "spanId" | "name" | "service" | "kind" | "startMs" | "durationMs" | "error">
  >;
  logCount: number;
  /** Services that could not be asked (down, or without the endpoint). */
  problems: string[];
}

export interface JourneySources {
  /** Running services with an HTTP endpoint. */
  services(): JourneyService[];
  spans(traceId: string): SpanRecord[];
  logs(traceId: string): LogRecord[];
  /** Trace ids whose spans carry this message id (`messaging.message.id`), newest first. */
  traceIdsOfMessage?(messageId: string): string[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TRACE_ID = /^[0-9a-f]{32}$/i;

interface OutboxDetail {
  id: string;
  type: string;
  version: number;
  aggregateId: string;
  destination: string;
  status: string;
  attempts: number;
  lastError: string | null;
  createdAt: string;
  publishedAt: string | null;
  deliveredAt: string | null;
  headers: Record<string, string>;
  history: Array<{ at: string; outcome: string; attempts: number; error: string | null; actor: string }>;
}

interface ConsumerJourney {
  messageId: string;
  groups: Array<{ group: string; appliedAt: string | null }>;
  failures: Array<{ group: string | null; attempt: number; kind: string; error: string; occurredAt: string }>;
}

interface DeadLetterList {
  queue: string;
  items: Array<{
    messageId: string | null;
    reason: string | null;
    attempts: number | null;
    lastFailedAt: string | null;
  }>;
}

/**
 * A message's whole life on one timeline, assembled only from what the services serve over HTTP
 * (the sender's outbox API, the receiver's journey and dead-letter APIs) and from the telemetry the
 * dashboard received — never from their databases. The query is an entity id, an outbox message id
 * or a trace id.
 */
export async function buildJourney(query: string, sources: JourneySources): Promise<Journey> {
  const q = query.trim().toLowerCase();
  const journey: Journey = { query: q, kind: "none", messages: [], spans: [], logCount: 0, problems: [] };
  const services = sources.services();
  let messageIds: string[] = [];
  if (TRACE_ID.test(q)) {
    journey.kind = "trace";
    messageIds = [
      ...new Set(
        sources
          .spans(q)
          .map((s) => s.attributes["messaging.message.id"])
          // Telemetry is whatever an exporter sent: only outbox ids (UUIDs) are looked up, and
          // they are still encoded into the URL below (a ".." or "?" must not reshape the path).
          .filter((id): id is string => typeof id === "string" && UUID.test(id)),
      ),
    ];
  } else if (UUID.test(q)) {
    for (const service of services) {
      const detail = await getJson<OutboxDetail>(
        service,
        `${service.url}/api/outbox/messages/${encodeURIComponent(q)}`,
      );
      if (detail.ok) {
        journey.kind = "message";
        messageIds = [q];
        break;
      }
      const owned = await getJson<{ items: Array<{ id: string }> }>(
        service,
        `${service.url}/api/outbox/aggregates/${encodeURIComponent(q)}/messages`,
      );
      if (owned.ok && owned.body.items.length > 0) {
        journey.kind = "entity";
        journey.entityId = q;
        messageIds = owned.body.items.map((m) => m.id);
        break;
      }
    }
  }
  const traceIds = new Set<string>(journey.kind === "trace" ? [q] : []);
  for (const id of messageIds) {
    const message = await messageJourney(id, services, journey.problems);
    if (!message) continue;
    journey.messages.push(message);
    if (journey.kind === "trace" || !journey.entityId) journey.entityId = message.aggregateId;
    if (message.traceId) traceIds.add(message.traceId);
    for (const traceId of sources.traceIdsOfMessage?.(id) ?? []) traceIds.add(traceId);
  }
  for (const traceId of traceIds) {
    journey.spans.push(
      ...sources
        .spans(traceId)
        .map(({ traceId, spanId, name, service, kind, startMs, durationMs, error }) => ({
          traceId,
          spanId,
          name,
          service,
          kind,
          startMs,
          durationMs,
          error,
        })),
    );
    journey.logCount += sources.logs(traceId).length;
  }
  journey.spans.sort((a, b) => a.startMs - b.startMs);
  return journey;
}

async function messageJourney(
  id: string,
  services: JourneyService[],
  problems: string[],
): Promise<MessageJourney | undefined> {
  let outbox: { service: string; detail: OutboxDetail } | undefined;
  for (const service of services) {
    const found = await getJson<OutboxDetail>(
      service,
      `${service.url}/api/outbox/messages/${encodeURIComponent(id)}`,
    );
    if (found.ok) {
      outbox = { service: service.name, detail: found.body };
      break;
    }
  }
  if (!outbox) return undefined;
  const m = outbox.detail;
  const events: JourneyEvent[] = [
    {
      time: m.createdAt,
      stage: "created",
      service: outbox.service,
      title: `${m.type} v${m.version} written to the outbox with entity ${m.aggregateId}`,
      detail: "one transaction: entity row + outbox row (pending)",
      outcome: "ok",
    },
  ];
  for (const h of m.history)
    events.push({
      time: h.at,
      stage: "outbox",
      service: outbox.service,
      title: `outbox: ${h.outcome} (attempts ${h.attempts})`,
      detail: [h.error, `by ${h.actor}`].filter(Boolean).join(" — "),
      outcome: h.outcome === "retried-by-operator" ? "ok" : "error",
    });
  if (m.publishedAt)
    events.push({
      time: m.publishedAt,
      stage: "broker",
      service: outbox.service,
      title: `accepted by the broker on ${m.destination}`,
      detail: "durable; the outbox row is now published",
      outcome: "ok",
    });
  else
    events.push({
      time: new Date().toISOString(),
      stage: "outbox",
      service: outbox.service,
      title: m.status === "dead" ? "dead in the outbox: never sent" : "waiting in the outbox to be published",
      detail: m.lastError ?? undefined,
      outcome: m.status === "dead" ? "error" : "waiting",
    });

  const waitingFor: string[] = [];
  for (const service of services) {
    const consumer = await getJson<ConsumerJourney>(
      service,
      `${service.url}/api/messages/${encodeURIComponent(id)}`,
    );
    if (!consumer.ok) {
      if (consumer.status !== 404) problems.push(`${service.name}: ${consumer.detail}`);
      continue;
    }
    for (const group of consumer.body.groups) {
      if (m.publishedAt)
        events.push({
          time: m.publishedAt,
          stage: "queue",
          service: service.name,
          group: group.group,
          title: `routed to ${m.destination}.${group.group} (group ${group.group})`,
          outcome: "ok",
        });
      const dead = await getJson<DeadLetterList>(
        service,
        `${service.url}/api/DeadLetters?group=${encodeURIComponent(group.group)}&limit=1000`,
      );
      const letter = dead.ok ? dead.body.items.find((l) => l.messageId === id) : undefined;
      if (letter)
        events.push({
          time: letter.lastFailedAt ?? new Date().toISOString(),
          stage: "dlq",
          service: service.name,
          group: group.group,
          title: `dead-lettered to ${dead.ok ? dead.body.queue : "the DLQ"}`,
          detail: letter.reason ?? undefined,
          outcome: "error",
        });
      if (group.appliedAt)
        events.push({
          time: group.appliedAt,
          stage: "applied",
          service: service.name,
          group: group.group,
          title: `applied by group ${group.group}`,
          detail: "effect and inbox row committed in one transaction, then accepted",
          outcome: "ok",
        });
      else if (!letter) waitingFor.push(group.group);
    }
    for (const f of consumer.body.failures)
      events.push({
        time: f.occurredAt,
        stage: "failure",
        service: service.name,
        group: f.group ?? undefined,
        title: `attempt ${f.attempt} failed (${f.kind})${f.group ? ` in group ${f.group}` : ""}`,
        detail: f.error,
        outcome: "error",
      });
  }
  if (m.deliveredAt)
    events.push(
      {
        time: m.deliveredAt,
        stage: "receipt",
        service: outbox.service,
        title: "delivery receipt received",
        outcome: "ok",
      },
      {
        time: m.deliveredAt,
        stage: "delivered",
        service: outbox.service,
        title: "delivered",
        detail: "the outbox row is marked delivered",
        outcome: "ok",
      },
    );
  events.sort(
    (a, b) => Date.parse(a.time) - Date.parse(b.time) || STAGES.indexOf(a.stage) - STAGES.indexOf(b.stage),
  );
  return {
    messageId: m.id,
    type: m.type,
    status: m.status,
    aggregateId: m.aggregateId,
    traceId: traceIdOf(m.headers.traceparent),
    events,
    waitingFor,
  };
}

const STAGES: JourneyEvent["stage"][] = [
  "created",
  "outbox",
  "broker",
  "queue",
  "failure",
  "dlq",
  "applied",
  "receipt",
  "delivered",
];

/** The trace id of a W3C traceparent ("00-<trace>-<span>-<flags>"). */
export function traceIdOf(traceparent: string | undefined): string | undefined {
  const match = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(traceparent ?? "");
  return match?.[1];
}

/** A running service the journey asks, with the admin token its outbox/DLQ routes need. */
export interface JourneyService {
  name: string;
  url: string;
  adminToken?: string;
}

type JsonResult<T> = { ok: true; body: T } | { ok: false; status: number; detail: string };

async function getJson<T>(service: JourneyService, url: string): Promise<JsonResult<T>> {
  try {
    const response = await fetch(url, {
      signal: AbortSignal.timeout(5000),
      // The outbox and dead-letter APIs are admin routes: they need the service's admin token.
      headers: {
        "x-apphost-monitor": "1",
        ...(service.adminToken ? { authorization: `Bearer ${service.adminToken}` } : {}),
      },
    });
    const text = await response.text();
    if (!response.ok)
      return { ok: false, status: response.status, detail: `${response.status} ${text.slice(0, 200)}` };
    return { ok: true, body: JSON.parse(text) as T };
  } catch (error) {
    return { ok: false, status: 0, detail: (error as Error).message };
  }
}
