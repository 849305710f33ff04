// The outbox services' dashboard contribution: the Messaging page (outbox, flow, blocked
// aggregates, dead letters, replay buttons, and the Kafka brokers' topics, lag and dead-letter
// topics), the message Journey page and the `message_journey` MCP tool. They read the services'
// own admin APIs (/api/outbox/..., /api/consumer-groups, /api/DeadLetters, /api/messages/{id})
// with the admin token the AppHost injected, and the model's Kafka resources through the
// AppHost's admin client; a model whose services have no such APIs simply does not declare this
// contribution.

import { fileURLToPath } from "node:url";
import { z } from "zod";
import type { ResourceSnapshot } from "../../../runtime/distributed-application.js";
import type {
  ContributedResponse,
  ContributedRoute,
  ContributionContext,
  DashboardContribution,
} from "../../contribution.js";
import { buildJourney, type JourneySources } from "./journey.js";
import { KafkaBrokers } from "./kafka-brokers.js";
import { MessagingMonitor, REPLAY_ACTIONS, isPollable, type ReplayAction } from "./messaging-monitor.js";

export interface OutboxMessagingOptions {
  /**
   * The services whose outbox, consumer-group and dead-letter APIs the dashboard reads (resources
   * of the model, or anything with their name). Only these are ever sent the admin token.
   */
  services: ReadonlyArray<{ readonly name: string }>;
  /** How often the Messaging page's figures are sampled (default 5 s). */
  intervalMs?: number;
}

const UI = (file: string): string => fileURLToPath(new URL(`./ui/${file}`, import.meta.url));

/** `app.addDashboardContribution(outboxMessaging({ services: [sender, receiver] }))`. */
export function outboxMessaging(options: OutboxMessagingOptions): DashboardContribution {
  const names = new Set(options.services.map((s) => s.name));
  if (names.size === 0) throw new Error("outboxMessaging: give at least one service");
  return {
    name: "outbox-messaging",
    pages: [
      { id: "messaging", title: "Messaging", module: UI("messaging.js") },
      { id: "journey", title: "Journey", module: UI("journey.js") },
    ],
    tools: [
      {
        name: "message_journey",
        title: "Message journey",
        description:
          "One message's whole life from an entity id, outbox message id or trace id: outbox, broker, each consumer group, failures, dead letters, receipt, delivered.",
        inputSchema: { id: z.string().min(1) },
        path: (input) => `/api/journey?q=${encodeURIComponent(String(input.id))}`,
      },
    ],
    activate: (context) => activate(context, names, options.intervalMs),
  };
}

function activate(context: ContributionContext, names: ReadonlySet<string>, intervalMs: number | undefined) {
  const services = (): ResourceSnapshot[] => context.resources().filter((r) => names.has(r.name));
  const adminToken = (resource: string) => context.environmentOf(resource)?.ADMIN_TOKEN;
  const monitor = new MessagingMonitor({
    resources: services,
    adminToken,
    intervalMs,
    signal: context.signal,
  });
  monitor.start();
  const kafka = new KafkaBrokers({ resources: () => context.resources() });
  const journeySources: JourneySources = {
    services: () =>
      services().flatMap((r) =>
        isPollable(r) && r.endpoints.http
          ? [{ name: r.name, url: r.endpoints.http, adminToken: adminToken(r.name) }]
          : [],
      ),
    spans: (traceId) => context.telemetry.spans(traceId),
    logs: (traceId) => context.telemetry.logs(traceId),
    traceIdsOfMessage: (id) => context.telemetry.traceIdsWhere("messaging.message.id", id),
  };
  const routes: ContributedRoute[] = [
    {
      method: "GET",
      path: "messaging",
      handle: async ({ query }) => {
        if (query.get("refresh") === "true") await monitor.sampleNow();
        return { status: 200, json: monitor.snapshot() };
      },
    },
    {
      method: "GET",
      path: "messaging/kafka",
      handle: async () => ({ status: 200, json: { brokers: await kafka.views() } }),
    },
    {
      method: "POST",
      path: "messaging/:resource/replay/:action",
      handle: ({ params, query }) =>
        replay(services(), adminToken, params.resource ?? "", params.action ?? "", query.get("group")),
    },
    {
      method: "GET",
      path: "journey",
      handle: async ({ query }) => ({
        status: 200,
        json: await buildJourney(query.get("q") ?? "", journeySources),
      }),
    },
  ];
  return { routes, stopped: () => monitor.stopped() };
}

/** A consumer group name as the services' APIs take it (letters, digits, `.`, `_`, `-`). */
const GROUP_NAME = /^[A-Za-z0-9._-]{1,200}$/;

/**
 * A replay button: the service's own admin API does the work; its answer is passed through.
 * `group` picks a consumer group's dead letters (the service's `?group=`), whatever the transport
 * keeps them in; without it the service replays its main group's.
 */
async function replay(
  services: ResourceSnapshot[],
  adminToken: (resource: string) => string | undefined,
  resource: string,
  action: string,
  group: string | null,
): Promise<ContributedResponse> {
  if (!Object.hasOwn(REPLAY_ACTIONS, action)) return { status: 404, json: { error: "not found" } };
  if (group !== null && (action !== "dead-letters" || !GROUP_NAME.test(group)))
    return {
      status: 400,
      json: { error: `group must be a consumer group name (${GROUP_NAME.source}) of a dead-letters replay` },
    };
  // Only a Running resource owns its port: a stopped one's may be squatted, and the request
  // carries the service's admin token.
  const found = services.find((r) => r.name === resource);
  const base = found && isPollable(found) ? found.endpoints.http : undefined;
  if (!base) return { status: 404, json: { error: `${resource} has no running HTTP endpoint` } };
  const { method, path } = REPLAY_ACTIONS[action as ReplayAction];
  const target = group === null ? path : `${path}?group=${encodeURIComponent(group)}`;
  try {
    const token = adminToken(resource);
    const response = await fetch(base + target, {
      method,
      headers: token ? { authorization: `Bearer ${token}` } : {},
      signal: AbortSignal.timeout(30_000),
    });
    return {
      status: response.status,
      text: await response.text(),
      contentType: response.headers.get("content-type") ?? "text/plain",
    };
  } catch (error) {
    return { status: 502, json: { error: (error as Error).message } };
  }
}
