import { sleep } from "../../../runtime/wait.js";
import type { ResourceSnapshot } from "../../../runtime/distributed-application.js";

export interface OutboxSample {
  time: number;
  counts: Record<string, number>;
  oldestPendingAgeMs: number | null;
}

/**
 * An aggregate the sender's outbox stopped at a dead message (`GET /api/outbox/blocked`): its later
 * messages wait at the sender until an operator retries the dead one.
 */
export interface BlockedAggregate {
  aggregateType: string;
  aggregateId: string;
  destination: string;
  deadMessage: { id: string; type: string; version: number; lastError: string | null };
  waiting: number;
  blockedSince: string;
}

/** The latest listing of blocked aggregates (the first page; `total` counts them all). */
export interface BlockedSample {
  time: number;
  total: number;
  items: BlockedAggregate[];
}

export interface DeadLetterSample {
  time: number;
  /** Where the transport keeps them: an Artemis dead-letter queue, a Kafka dead-letter topic. */
  queue: string;
  /** The consumer group (absent for a service with a single dead-letter source). */
  group?: string;
  /** The sender's dead-lettered delivery receipts (replayed by `receipt-dead-letters`). */
  receipts?: true;
  count: number;
}

/** The sender's GET /api/outbox/flow: a rolling window of throughput and commit → published/delivered latency. */
export interface FlowSample {
  time: number;
  windowMs: number;
  published: number;
  delivered: number;
  commitToPublishedP95Ms: number | null;
  commitToDeliveredP95Ms: number | null;
}

export interface ServiceMessaging {
  resource: string;
  url: string;
  outbox?: OutboxSample[];
  /** One series per consumer group's dead-letter queue (told apart by `queue`). */
  deadLetters?: DeadLetterSample[];
  flow?: FlowSample[];
  /** Only the latest listing: what is blocked now, not a history. */
  blocked?: BlockedSample;
  error?: string;
}

export interface MessagingMonitorOptions {
  /** The outbox services' snapshots (the model names them; other resources are never asked). */
  resources: () => ResourceSnapshot[];
  /** The service's admin bearer token (the stats and dead-letter endpoints require it). */
  adminToken?: (resource: string) => string | undefined;
  intervalMs?: number;
  /** Samples kept per series (the "over time" part of the page). */
  historySize?: number;
  signal: AbortSignal;
}

/** Replays the dashboard can trigger, mapped to the services' own admin APIs. */
export const REPLAY_ACTIONS = {
  "outbox-dead": { method: "POST", path: "/api/outbox/dead/replay?limit=1000" },
  "dead-letters": { method: "POST", path: "/api/DeadLetters/replay" },
  "receipt-dead-letters": { method: "POST", path: "/api/outbox/receipt-dead-letters/replay" },
} as const;
export type ReplayAction = keyof typeof REPLAY_ACTIONS;

/**
 * Samples the services' messaging APIs — the sender's `GET /api/outbox/stats`,
 * `GET /api/outbox/flow`, `GET /api/outbox/blocked` and `GET /api/outbox/receipt-dead-letters/count`,
 * the receiver's `GET /api/consumer-groups` and `GET /api/DeadLetters/count`
 * per group — every few seconds and keeps a short history. A service
 * that doesn't serve an endpoint (404) simply has no such series.
 */
export class MessagingMonitor {
  private readonly services = new Map<string, ServiceMessaging>();
  private loop: Promise<void> | undefined;
  private readonly missing = new Map<string, number>();

  constructor(private readonly options: MessagingMonitorOptions) {}

  start(): void {
    this.loop ??= this.run();
  }

  async stopped(): Promise<void> {
    await this.loop;
  }

  snapshot(): ServiceMessaging[] {
    return [...this.services.values()];
  }

  async sampleNow(): Promise<void> {
    const running = this.options.resources().filter(isPollable);
    await Promise.all(running.map((r) => this.sample(r.name, r.endpoints.http ?? "")));
  }

  private async run(): Promise<void> {
    const interval = this.options.intervalMs ?? 5000;
    while (!this.options.signal.aborted) {
      await this.sampleNow().catch(() => {});
      // sleep() removes its abort listener each time; adding one per tick leaked (MaxListenersExceededWarning).
      await sleep(interval, this.options.signal);
    }
  }

  private async sample(resource: string, url: string): Promise<void> {
    const entry = this.services.get(resource) ?? { resource, url };
    entry.url = url;
    const time = Date.now();
    const [outbox, flow, blocked, groups, receipts] = await Promise.all([
      this.probe(resource, `${url}/api/outbox/stats`),
      this.probe(resource, `${url}/api/outbox/flow?windowMs=60000`),
      this.probe(resource, `${url}/api/outbox/blocked?pageSize=${BLOCKED_SHOWN}`),
      this.probe(resource, `${url}/api/consumer-groups`),
      this.probe(resource, `${url}/api/outbox/receipt-dead-letters/count`),
    ]);
    // Every consumer group's dead-letter queue; a service without the groups list has one, the default.
    const groupNames =
      groups.ok && isRecord(groups.body) && Array.isArray(groups.body.groups)
        ? groups.body.groups.filter((g): g is string => typeof g === "string")
        : [undefined];
    const dead = await Promise.all(
      groupNames.map((g) =>
        this.probe(
          resource,
          `${url}/api/DeadLetters/count${g === undefined ? "" : `?group=${encodeURIComponent(g)}`}`,
        ),
      ),
    );
    delete entry.error;
    if (outbox.ok && isRecord(outbox.body) && isRecord(outbox.body.counts)) {
      const counts: Record<string, number> = {};
      for (const [status, n] of Object.entries(outbox.body.counts))
        if (typeof n === "number") counts[status] = n;
      const age = outbox.body.oldestPendingAgeMs;
      this.push(entry, "outbox", { time, counts, oldestPendingAgeMs: typeof age === "number" ? age : null });
    } else if (outbox.status !== 404 && entry.outbox) entry.error = `outbox stats: ${outbox.detail}`;
    if (flow.ok && isRecord(flow.body)) {
      const body = flow.body;
      const p95 = (key: string) => {
        const value = body[key];
        return isRecord(value) && typeof value.p95 === "number" ? value.p95 : null;
      };
      this.push(entry, "flow", {
        time,
        windowMs: typeof body.windowMs === "number" ? body.windowMs : 60_000,
        published: typeof body.published === "number" ? body.published : 0,
        delivered: typeof body.delivered === "number" ? body.delivered : 0,
        commitToPublishedP95Ms: p95("commitToPublishedMs"),
        commitToDeliveredP95Ms: p95("commitToDeliveredMs"),
      });
    }
    if (blocked.ok && isRecord(blocked.body) && Array.isArray(blocked.body.items)) {
      const items = blocked.body.items.filter(isBlockedAggregate);
      const total = typeof blocked.body.total === "number" ? blocked.body.total : items.length;
      entry.blocked = { time, total, items };
    } else if (blocked.status !== 404 && entry.blocked) entry.error = `blocked aggregates: ${blocked.detail}`;
    for (const result of dead) {
      if (result.ok && isRecord(result.body) && typeof result.body.count === "number") {
        const queue = typeof result.body.queue === "string" ? result.body.queue : "DLQ";
        const group = typeof result.body.group === "string" ? { group: result.body.group } : {};
        this.push(entry, "deadLetters", { time, queue, ...group, count: result.body.count });
      } else if (result.status !== 404 && entry.deadLetters) entry.error = `dead letters: ${result.detail}`;
    }
    if (receipts.ok && isRecord(receipts.body) && typeof receipts.body.count === "number") {
      const queue = typeof receipts.body.queue === "string" ? receipts.body.queue : "receipts DLQ";
      this.push(entry, "deadLetters", { time, queue, receipts: true, count: receipts.body.count });
    } else if (receipts.status !== 404 && entry.deadLetters?.some((d) => d.receipts))
      entry.error = `receipt dead letters: ${receipts.detail}`;
    if (entry.outbox || entry.deadLetters || entry.error) this.services.set(resource, entry);
  }

  /** A service without the endpoint (404) is asked again only once a minute, not on every tick. */
  private async probe(resource: string, url: string): Promise<JsonResult> {
    // Asked again right before each request: a resource stopped since the tick began no longer
    // owns its port, and whoever took it would receive the admin token.
    if (!this.stillServes(resource, url))
      return { ok: false, status: 0, detail: `${resource} is not running` };
    const key = `${resource} ${url}`;
    const missingUntil = this.missing.get(key);
    if (missingUntil !== undefined && Date.now() < missingUntil)
      return { ok: false, status: 404, detail: "404" };
    const result = await getJson(url, this.options.adminToken?.(resource));
    if (result.status === 404) this.missing.set(key, Date.now() + 60_000);
    else this.missing.delete(key);
    return result;
  }

  private stillServes(resource: string, url: string): boolean {
    return this.options
      .resources()
      .some(
        (r) =>
          r.name === resource &&
          isPollable(r) &&
          r.endpoints.http !== undefined &&
          url.startsWith(`${r.endpoints.http}/`),
      );
  }

  private push<K extends "outbox" | "deadLetters" | "flow">(
    entry: ServiceMessaging,
    key: K,
    sample: NonNullable<ServiceMessaging[K]>[number],
  ): void {
    const list = (entry[key] ?? []) as Array<typeof sample>;
    list.push(sample);
    // Dead letters hold one sample per group per tick.
    const max = (this.options.historySize ?? 360) * (key === "deadLetters" ? 4 : 1);
    if (list.length > max) list.splice(0, list.length - max);
    (entry as Record<K, unknown>)[key] = list;
  }
}

/** Blocked aggregates shown per service (the page says how many there are in all). */
const BLOCKED_SHOWN = 50;

/**
 * Only a service this AppHost runs and reports Running owns its port: a stopped one's port may be
 * taken by any local process, which must not be handed the service's admin token. (Which resources
 * are the outbox services is the model's choice: `resources` lists only those.)
 */
export function isPollable(r: ResourceSnapshot): boolean {
  return r.state === "Running" && r.endpoints.http !== undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

function isBlockedAggregate(value: unknown): value is BlockedAggregate {
  if (!isRecord(value) || !isRecord(value.deadMessage)) return false;
  const dead = value.deadMessage;
  return (
    typeof value.aggregateType === "string" &&
    typeof value.aggregateId === "string" &&
    typeof value.destination === "string" &&
    typeof value.waiting === "number" &&
    typeof value.blockedSince === "string" &&
    typeof dead.id === "string" &&
    typeof dead.type === "string" &&
    typeof dead.version === "number" &&
    (typeof dead.lastError === "string" || dead.lastError === null)
  );
}

interface JsonResult {
  ok: boolean;
  status: number;
  body?: unknown;
  detail: string;
}

async function getJson(url: string, token: string | undefined): Promise<JsonResult> {
  try {
    // The header tells the services' tracing to skip these polls (service-defaults/telemetry.ts).
    const response = await fetch(url, {
      signal: AbortSignal.timeout(3000),
      headers: { "x-apphost-monitor": "1", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    });
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return {
      ok: response.ok,
      status: response.status,
      body,
      detail: `${response.status} ${text.slice(0, 200)}`,
    };
  } catch (error) {
    return { ok: false, status: 0, detail: (error as Error).message };
  }
}
