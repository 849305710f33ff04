// The bench's scenarios that drive the services of a started stack (HTTP load, a committed
// backlog, idle) and what they measure. Shared by the single run (bench.ts) and the before/after
// comparison (baseline-run.ts), which runs them against two stacks.
import type pg from "pg";
import type { DistributedApplication } from "@outbox/apphost";
import { delay } from "../support/relay-harness.js";
import { query } from "../support/system.js";
import { cpuPerMessage, type CpuPerMessage } from "./cpu-per-message.js";
import { ProcessSampler, type Components } from "./proc-stats.js";

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
}

const benchStartedAt = Date.now();

export function say(line: string): void {
  // Progress on stderr so that stdout ends with the table/JSON only; seconds since start.
  process.stderr.write(`[bench +${Math.round((Date.now() - benchStartedAt) / 1000)}s] ${line}\n`);
}

export function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** Drives POST /api/EntityItems until the deadline: closed loop with `concurrency` workers, or open loop at `ratePerS`. */
export async function driveLoad(
  senderUrl: string,
  durationS: number,
  opts: { concurrency: number; ratePerS?: number; prefix: string },
): Promise<{ ids: string[]; errors: number; startedAt: number; endedAt: number }> {
  const ids: string[] = [];
  let errors = 0;
  let n = 0;
  const startedAt = Date.now();
  const deadline = startedAt + durationS * 1000;
  const post = async (): Promise<void> => {
    const i = n++;
    try {
      const response = await fetch(`${senderUrl}/api/EntityItems`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          name: `${opts.prefix}-${i}`,
          description: `bench item ${i} ${"x".repeat(64)}`,
        }),
      });
      const body = (await response.json()) as { id?: string };
      if (response.status === 201 && body.id) ids.push(body.id);
      else errors++;
    } catch {
      errors++;
    }
  };
  if (opts.ratePerS === undefined) {
    await Promise.all(
      Array.from({ length: opts.concurrency }, async () => {
        while (Date.now() < deadline) await post();
      }),
    );
  } else {
    // Open loop: start requests on schedule (bounded in flight), whatever the latency.
    const intervalMs = 1000 / opts.ratePerS;
    let inFlight = 0;
    let next = startedAt;
    const pending = new Set<Promise<void>>();
    while (Date.now() < deadline) {
      const now = Date.now();
      while (next <= now && inFlight < opts.concurrency * 4) {
        next += intervalMs;
        inFlight++;
        const p = post().finally(() => {
          inFlight--;
          pending.delete(p);
        });
        pending.add(p);
      }
      await delay(Math.max(1, Math.min(10, next - Date.now())));
    }
    await Promise.all(pending);
  }
  return { ids, errors, startedAt, endedAt: Date.now() };
}

/**
 * Waits until every id is applied by the receiver (or the timeout); returns applied counts per id.
 * `onCaughtUp` runs the moment the last one is seen applied, before the wait for late duplicates.
 */
export async function waitApplied(
  receiverDb: string,
  ids: string[],
  timeoutMs: number,
  onCaughtUp?: () => void,
): Promise<{ counts: Map<string, number>; lastAppliedAt: number }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [row] = await query<{ n: string }>(
      receiverDb,
      "SELECT count(*)::text AS n FROM received_items WHERE id = ANY($1::uuid[])",
      [ids],
    );
    if (Number(row?.n ?? 0) >= ids.length || Date.now() > deadline) break;
    await delay(250);
  }
  onCaughtUp?.();
  await delay(1_000); // let a late duplicate show up
  const rows = await query<{ id: string; n: string; last: Date }>(
    receiverDb,
    `SELECT r.id::text AS id, count(i.message_id)::text AS n, max(r.received_at) AS last
       FROM received_items r JOIN inbox i ON i.aggregate_id = r.id::text
      WHERE r.id = ANY($1::uuid[]) GROUP BY r.id`,
    [ids],
  );
  const counts = new Map(rows.map((r) => [r.id, Number(r.n)]));
  const lastAppliedAt = Math.max(0, ...rows.map((r) => new Date(r.last).getTime()));
  return { counts, lastAppliedAt };
}

async function percentiles(connection: string, text: string, params: unknown[]): Promise<Percentiles> {
  const [row] = await query<{ p: number[] | null }>(
    connection,
    `SELECT percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY v) AS p FROM (${text}) s(v)`,
    params,
  );
  const p = row?.p ?? [Number.NaN, Number.NaN, Number.NaN];
  return { p50: round(p[0] ?? Number.NaN), p95: round(p[1] ?? Number.NaN), p99: round(p[2] ?? Number.NaN) };
}

/** commit → accepted: outbox created_at → published_at (the relay stores the broker's acceptance time). */
export function publishLatency(senderDb: string, ids: string[]): Promise<Percentiles> {
  return percentiles(
    senderDb,
    `SELECT extract(epoch FROM published_at - created_at) * 1000 FROM outbox_messages
      WHERE aggregate_id = ANY($1::text[]) AND published_at IS NOT NULL`,
    [ids],
  );
}

/** commit → applied: the receiver's received_at − the entity's created_at at the source. */
export function e2eLatency(receiverDb: string, ids: string[]): Promise<Percentiles> {
  return percentiles(
    receiverDb,
    `SELECT extract(epoch FROM received_at - source_created_at) * 1000 FROM received_items WHERE id = ANY($1::uuid[])`,
    [ids],
  );
}

/** The processes whose CPU and memory the bench records, by component. */
export function components(app: DistributedApplication): Components {
  const pid = (name: string) => app.resource(name).pid;
  return {
    "sender-pg": pid("sender-pg"),
    "receiver-pg": pid("receiver-pg"),
    broker: pid("broker"),
    sender: pid("sender"),
    receiver: pid("receiver"),
    "load-generator": process.pid,
  };
}

/**
 * A backlog committed in one transaction (one NOTIFY) straight into the outbox for the app's
 * relay: how fast the relay drains it (to published) and the pipeline applies it (receiver), with
 * no HTTP in the way; and the CPU each component spent per message, from the commit until the
 * last message was applied (the sender's share is the relay alone: no HTTP).
 */
export async function backlogDrain(
  app: DistributedApplication,
  pool: pg.Pool,
  count: number,
): Promise<{ relayRate: number; e2eRate: number; ids: string[]; cpuPerMsg: CpuPerMessage }> {
  const receiverDb = app.getConnectionString("receiverdb");
  const sampler = new ProcessSampler(components(app));
  const startedAt = Date.now();
  const inserted = await pool.query<{ id: string }>(
    `WITH items AS (
       SELECT gen_random_uuid() AS id, 'backlog-' || g AS name FROM generate_series(1, $1::int) g
     ), ins AS (
       INSERT INTO outbox_messages (id, aggregate_type, aggregate_id, type, version, destination, payload)
       SELECT gen_random_uuid(), 'EntityItem', id::text, 'EntityItemCreated', 1, 'entity-items',
              jsonb_build_object('id', id, 'name', name, 'description', repeat('x', 64),
                                 'createdAt', to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
         FROM items
       RETURNING aggregate_id
     ), notified AS (SELECT pg_notify('outbox_messages', 'entity-items'))
     SELECT aggregate_id AS id FROM ins, notified`,
    [count],
  );
  const ids = inserted.rows.map((r) => r.id);
  let publishedAt = 0;
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const [row] = (
      await pool.query<{ n: string; last: Date | null }>(
        `SELECT count(*)::text AS n, max(published_at) AS last FROM outbox_messages
          WHERE aggregate_id = ANY($1::text[]) AND status IN ('published', 'delivered')`,
        [ids],
      )
    ).rows;
    if (Number(row?.n ?? 0) >= ids.length) {
      publishedAt = row?.last ? new Date(row.last).getTime() : Date.now();
      break;
    }
    await delay(200);
  }
  let cpuSeconds: Record<string, number> = {};
  const applied = await waitApplied(receiverDb, ids, 120_000, () => {
    cpuSeconds = sampler.stop().cpuSeconds;
  });
  return {
    relayRate: publishedAt > 0 ? ids.length / ((publishedAt - startedAt) / 1000) : 0,
    e2eRate: applied.counts.size / ((applied.lastAppliedAt - startedAt) / 1000),
    ids,
    cpuPerMsg: cpuPerMessage(cpuSeconds, applied.counts.size),
  };
}

/** Full-concurrency load for a few seconds after the services (re)start, not measured: JIT, pools, caches. */
export async function warmUpAfterRestart(
  senderUrl: string,
  prefix: string,
  concurrency: number,
): Promise<void> {
  await driveLoad(senderUrl, 5, { concurrency, prefix });
  await delay(2_000);
}

/**
 * A closed-loop load at `concurrency`, sampled per component, then waited for until applied.
 * `profile` covers the load window (CPU %, RSS); `cpuPerMsg` the load window plus the time until
 * the last message was applied, divided by the messages applied.
 */
export async function maxLoad(
  app: DistributedApplication,
  durationS: number,
  prefix: string,
  concurrency: number,
  extra: Components = {},
) {
  const senderUrl = app.getEndpoint("sender");
  const receiverDb = app.getConnectionString("receiverdb");
  const sampler = new ProcessSampler({ ...components(app), ...extra });
  const load = await driveLoad(senderUrl, durationS, { concurrency, prefix });
  const profile = sampler.read();
  let cpuSeconds: Record<string, number> = {};
  const applied = await waitApplied(receiverDb, load.ids, 120_000, () => {
    cpuSeconds = sampler.stop().cpuSeconds;
  });
  const e2eRate = load.ids.length / ((applied.lastAppliedAt - load.startedAt) / 1000);
  return { load, applied, e2eRate, profile, cpuPerMsg: cpuPerMessage(cpuSeconds, applied.counts.size) };
}

/** CPU per component over `idleS` seconds without traffic, in % of one core. */
export async function idleCpu(app: DistributedApplication, idleS: number): Promise<Record<string, number>> {
  await delay(2_000);
  const idle = components(app);
  delete idle["load-generator"];
  const sampler = new ProcessSampler(idle);
  await delay(idleS * 1000);
  return sampler.stop().cpuPercent;
}
