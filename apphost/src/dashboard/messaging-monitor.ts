import { sleep } from "../runtime/wait.js";
import type { ResourceSnapshot } from "../runtime/distributed-application.js";

export interface OutboxSample {
  time: number;
  counts: Record<string, number>;
  oldestPendingAgeMs: number | null;
}

export interface DeadLetterSample {
  time: number;
  queue: string;
  count: number;
}

export interface ServiceMessaging {
  resource: string;
  url: string;
  outbox?: OutboxSample[];
  deadLetters?: DeadLetterSample[];
  error?: string;
}

export interface MessagingMonitorOptions {
  resources: () => ResourceSnapshot[];
  intervalMs?: number;
  /** Samples kept per series (the "over time" part of the page). */
  historySize?: number;
  signal: AbortSignal;
}

/** Replays the dashboard can trigger, mapped to the services' own admin APIs. */
export const REPLAY_ACTIONS = {
  "outbox-dead": { method: "POST", path: "/api/outbox/dead/replay?limit=1000" },
  "dead-letters": { method: "POST", path: "/api/DeadLetters/replay" },
} as const;
export type ReplayAction = keyof typeof REPLAY_ACTIONS;

/**
 * Samples the services' messaging admin APIs — the sender's `GET /api/outbox/stats` and the
 * receiver's `GET /api/DeadLetters/count` — every few seconds and keeps a short history. A service
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
    const running = this.options
      .resources()
      .filter((r) => r.kind === "node-service" && r.state === "Running" && r.endpoints.http);
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
    const [outbox, dead] = await Promise.all([
      this.probe(resource, `${url}/api/outbox/stats`),
      this.probe(resource, `${url}/api/DeadLetters/count`),
    ]);
    delete entry.error;
    if (outbox.ok && isRecord(outbox.body) && isRecord(outbox.body.counts)) {
      const counts: Record<string, number> = {};
      for (const [status, n] of Object.entries(outbox.body.counts))
        if (typeof n === "number") counts[status] = n;
      const age = outbox.body.oldestPendingAgeMs;
      this.push(entry, "outbox", { time, counts, oldestPendingAgeMs: typeof age === "number" ? age : null });
    } else if (outbox.status !== 404 && entry.outbox) entry.error = `outbox stats: ${outbox.detail}`;
    if (dead.ok && isRecord(dead.body) && typeof dead.body.count === "number") {
      const queue = typeof dead.body.queue === "string" ? dead.body.queue : "DLQ";
      this.push(entry, "deadLetters", { time, queue, count: dead.body.count });
    } else if (dead.status !== 404 && entry.deadLetters) entry.error = `dead letters: ${dead.detail}`;
    if (entry.outbox || entry.deadLetters || entry.error) this.services.set(resource, entry);
  }

  /** A service without the endpoint (404) is asked again only once a minute, not on every tick. */
  private async probe(resource: string, url: string): Promise<JsonResult> {
    const key = `${resource} ${url}`;
    const missingUntil = this.missing.get(key);
    if (missingUntil !== undefined && Date.now() < missingUntil)
      return { ok: false, status: 404, detail: "404" };
    const result = await getJson(url);
    if (result.status === 404) this.missing.set(key, Date.now() + 60_000);
    else this.missing.delete(key);
    return result;
  }

  private push<K extends "outbox" | "deadLetters">(
    entry: ServiceMessaging,
    key: K,
    sample: NonNullable<ServiceMessaging[K]>[number],
  ): void {
    const list = (entry[key] ?? []) as Array<typeof sample>;
    list.push(sample);
    const max = this.options.historySize ?? 360;
    if (list.length > max) list.splice(0, list.length - max);
    (entry as Record<K, unknown>)[key] = list;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

interface JsonResult {
  ok: boolean;
  status: number;
  body?: unknown;
  detail: string;
}

async function getJson(url: string): Promise<JsonResult> {
  try {
    // The header tells the services' tracing to skip these polls (service-defaults/telemetry.ts).
    const response = await fetch(url, {
      signal: AbortSignal.timeout(3000),
      headers: { "x-apphost-monitor": "1" },
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
