// `npm run bench [-- --quick] [-- --json]`: measures the outbox relay on the real stack (process
// provider: embedded PostgreSQL, Artemis, sender and receiver services) and prints a table; with
// --json the last line is one JSON object. Not part of `npm test`. See /tmp/readme-issue4.md.
import { readFileSync } from "node:fs";
import os from "node:os";
import { v7 as uuidv7 } from "uuid";
import type pg from "pg";
import { sql } from "drizzle-orm";
import type { DistributedApplication, NodeServiceResource } from "@outbox/apphost";
import { startTestApp, stopTestApp } from "@outbox/apphost/testing";
import { AmqpConnection } from "@outbox/service-defaults";
import type { Database } from "../../sender-service/src/data/db.js";
import { insertEntityItem } from "../../sender-service/src/data/entity-items.js";
import { insertOutboxMessage } from "../../sender-service/src/data/outbox.js";
import { AmqpPublisher } from "../../sender-service/src/messaging/amqp-publisher.js";
import { toAmqpMessage } from "../../sender-service/src/messaging/outbox-amqp-message.js";
import { delay, logger, openDatabase, QueueDrain, relayTestModel } from "../support/relay-harness.js";
import { query } from "../support/system.js";

const args = new Set(process.argv.slice(2));
const quick = args.has("--quick");
const json = args.has("--json");

const settings = quick
  ? { loadS: 15, halfLoadS: 10, rawS: 6, seedS: 12, idleS: 10, concurrency: 32, backlog: 3_000 }
  : { loadS: 60, halfLoadS: 30, rawS: 20, seedS: 30, idleS: 10, concurrency: 32, backlog: 10_000 };

// Queues of relayTestModel() that no relay serves: the raw and seed runs use them.
const RAW_BROKER_QUEUE = "relay-test-10";
const RAW_PG_DESTINATION = "relay-test-11";
const SEED_QUEUE = "relay-test-9";

interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
}

function say(line: string): void {
  // Progress on stderr so that stdout ends with the table/JSON only.
  process.stderr.write(`[bench] ${line}\n`);
}

function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** Drives POST /api/EntityItems until the deadline: closed loop with `concurrency` workers, or open loop at `ratePerS`. */
async function driveLoad(
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

/** Waits until every id is applied by the receiver (or the timeout); returns applied counts per id. */
async function waitApplied(
  receiverDb: string,
  ids: string[],
  timeoutMs: number,
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
function publishLatency(senderDb: string, ids: string[]): Promise<Percentiles> {
  return percentiles(
    senderDb,
    `SELECT extract(epoch FROM published_at - created_at) * 1000 FROM outbox_messages
      WHERE aggregate_id = ANY($1::text[]) AND published_at IS NOT NULL`,
    [ids],
  );
}

/** commit → applied: the receiver's received_at − the entity's created_at at the source. */
function e2eLatency(receiverDb: string, ids: string[]): Promise<Percentiles> {
  return percentiles(
    receiverDb,
    `SELECT extract(epoch FROM received_at - source_created_at) * 1000 FROM received_items WHERE id = ANY($1::uuid[])`,
    [ids],
  );
}

/**
 * A backlog committed in one transaction (one NOTIFY) straight into the outbox for the app's
 * relay: how fast the relay drains it (to published) and the pipeline applies it (receiver), with
 * no HTTP in the way.
 */
async function backlogDrain(
  pool: pg.Pool,
  receiverDb: string,
  count: number,
): Promise<{ relayRate: number; e2eRate: number; ids: string[] }> {
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
  const applied = await waitApplied(receiverDb, ids, 120_000);
  return {
    relayRate: publishedAt > 0 ? ids.length / ((publishedAt - startedAt) / 1000) : 0,
    e2eRate: applied.counts.size / ((applied.lastAppliedAt - startedAt) / 1000),
    ids,
  };
}

/** The API's insert transaction (entity + outbox row + NOTIFY), straight on a pool, no HTTP, no relay. */
async function rawPostgres(db: Database, durationS: number, concurrency: number): Promise<number> {
  const deadline = Date.now() + durationS * 1000;
  let done = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < deadline) {
        await db.transaction(async (tx) => {
          const id = uuidv7();
          await insertEntityItem(tx, {
            id,
            name: `rawpg-${done}`,
            description: `bench item ${"x".repeat(64)}`,
          });
          await insertOutboxMessage(tx, {
            id: uuidv7(),
            aggregateType: "EntityItem",
            aggregateId: id,
            type: "EntityItemCreated",
            version: 1,
            destination: RAW_PG_DESTINATION,
            payload: {
              id,
              name: `rawpg-${done}`,
              description: "x".repeat(64),
              createdAt: new Date().toISOString(),
            },
          });
        });
        done++;
      }
    }),
  );
  return done / durationS;
}

function sampleMessage(i: number) {
  const id = uuidv7();
  return toAmqpMessage({
    id: uuidv7(),
    seq: i,
    aggregateType: "EntityItem",
    aggregateId: id,
    type: "EntityItemCreated",
    version: 1,
    destination: RAW_BROKER_QUEUE,
    payload: {
      id,
      name: `raw-${i}`,
      description: `bench item ${i} ${"x".repeat(64)}`,
      createdAt: new Date().toISOString(),
    },
    headers: {},
    attempts: 0,
    createdAt: new Date(),
    priority: 4,
    deliverAt: null,
  });
}

/** Durable send → receive on one queue, pipelined up to the link credit, no database. */
async function rawBroker(brokerUrl: string, durationS: number): Promise<number> {
  const amqp = new AmqpConnection({ url: brokerUrl, containerId: "bench-raw-sender", logger });
  const publisher = new AmqpPublisher({
    amqp,
    address: RAW_BROKER_QUEUE,
    linkName: "bench-raw",
    sendTimeoutMs: 10_000,
    logger,
  });
  const drain = new QueueDrain(brokerUrl, RAW_BROKER_QUEUE);
  amqp.open();
  publisher.start();
  const never = new AbortController().signal;
  await publisher.waitUntilSendable(10_000, never);
  await delay(500);
  const startedAt = Date.now();
  const deadline = startedAt + durationS * 1000;
  let i = 0;
  const inFlight = new Set<Promise<unknown>>();
  while (Date.now() < deadline) {
    if (!publisher.isSendable() || inFlight.size >= 1000) {
      if (inFlight.size > 0) await Promise.race(inFlight);
      else await publisher.waitUntilSendable(1_000, never);
      continue;
    }
    const p = publisher.send(sampleMessage(i++)).finally(() => inFlight.delete(p));
    inFlight.add(p);
  }
  const received = drain.received.length;
  const rate = received / ((Date.now() - startedAt) / 1000);
  await Promise.all(inFlight);
  await drain.waitFor(i, 20_000, 0);
  await publisher.close();
  await drain.close();
  await amqp.close();
  return rate;
}

/** The seed's relay: every 5 s read 50 pending rows (no lock), send one at a time awaiting each outcome, mark the batch. */
async function seedRelay(db: Database, pool: pg.Pool, brokerUrl: string, durationS: number): Promise<number> {
  // A backlog larger than it can drain in the window.
  await pool.query(
    `INSERT INTO outbox_messages (id, aggregate_type, aggregate_id, type, version, destination, payload)
     SELECT gen_random_uuid(), 'EntityItem', gen_random_uuid()::text, 'EntityItemCreated', 1, $1,
            jsonb_build_object('name', 'seed-' || g, 'description', repeat('x', 64))
       FROM generate_series(1, 2000) g`,
    [SEED_QUEUE],
  );
  const amqp = new AmqpConnection({ url: brokerUrl, containerId: "bench-seed-relay", logger });
  const publisher = new AmqpPublisher({
    amqp,
    address: SEED_QUEUE,
    linkName: "bench-seed",
    sendTimeoutMs: 10_000,
    logger,
  });
  const drain = new QueueDrain(brokerUrl, SEED_QUEUE);
  amqp.open();
  publisher.start();
  const stop = new AbortController();
  await publisher.waitUntilSendable(10_000, stop.signal);
  let published = 0;
  const startedAt = Date.now();
  const deadline = startedAt + durationS * 1000;
  while (Date.now() < deadline) {
    const rows = (
      await pool.query<{ id: string; aggregate_id: string; payload: unknown; created_at: Date; seq: string }>(
        `SELECT id, aggregate_id, payload, created_at, seq FROM outbox_messages
          WHERE status = 'pending' AND destination = $1 ORDER BY created_at LIMIT 50`,
        [SEED_QUEUE],
      )
    ).rows;
    const sent: string[] = [];
    for (const row of rows) {
      if (Date.now() >= deadline) break;
      const outcome = await publisher.send(
        toAmqpMessage({
          id: row.id,
          seq: Number(row.seq),
          aggregateType: "EntityItem",
          aggregateId: row.aggregate_id,
          type: "EntityItemCreated",
          version: 1,
          destination: SEED_QUEUE,
          payload: row.payload,
          headers: {},
          attempts: 0,
          createdAt: row.created_at,
          priority: 4,
          deliverAt: null,
        }),
      );
      if (outcome.kind === "accepted") sent.push(row.id);
    }
    await db.execute(
      sql`update outbox_messages set status = 'published', published_at = now() where id = any(${`{${sent.join(",")}}`}::uuid[])`,
    );
    published += sent.length;
    const left = deadline - Date.now();
    if (left > 0) await delay(Math.min(5_000, left));
  }
  const rate = published / ((Date.now() - startedAt) / 1000);
  await publisher.close();
  await drain.close();
  await amqp.close();
  return rate;
}

/** CPU time (user + system) of a process, in seconds, from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields after the command: state is [0], utime is field 14 overall → index 11 here, stime 12.
  return (Number(fields[11]) + Number(fields[12])) / 100; // CLK_TCK = 100 on Linux
}

async function main(): Promise<void> {
  const started = Date.now();
  say(`starting the stack (${quick ? "quick" : "full"} run)`);
  const model = relayTestModel();
  // As many database connections as concurrent clients, so requests do not queue for the pool.
  const sender = model.resources().find((r) => r.name === "sender") as NodeServiceResource | undefined;
  sender?.withEnvironment("PG_POOL_MAX", settings.concurrency);
  if (process.env.BENCH_RELAY_CONCURRENCY)
    sender?.withEnvironment("OUTBOX_CONCURRENCY", process.env.BENCH_RELAY_CONCURRENCY);
  const app: DistributedApplication = await startTestApp({ model });
  try {
    const senderUrl = app.getEndpoint("sender");
    const senderDb = app.getConnectionString("senderdb");
    const receiverDb = app.getConnectionString("receiverdb");
    const brokerUrl = app.getConnectionString("broker");
    const { db, pool } = openDatabase(senderDb);

    // Warm-up: JIT, connection pools, queues.
    await driveLoad(senderUrl, 2, { concurrency: 8, prefix: "warmup" });
    await delay(1_000);

    say(`max load: ${settings.concurrency} concurrent POSTs for ${settings.loadS} s`);
    const senderPid = app.resource("sender").pid;
    const cpuBefore = senderPid === null ? 0 : cpuSeconds(senderPid);
    const load = await driveLoad(senderUrl, settings.loadS, {
      concurrency: settings.concurrency,
      prefix: "load",
    });
    const loadCpuPercent =
      senderPid === null ? Number.NaN : ((cpuSeconds(senderPid) - cpuBefore) / settings.loadS) * 100;
    const loadApplied = await waitApplied(receiverDb, load.ids, 120_000);
    const e2eRate = load.ids.length / ((loadApplied.lastAppliedAt - load.startedAt) / 1000);
    const postRate = load.ids.length / ((load.endedAt - load.startedAt) / 1000);
    const publishAtMax = await publishLatency(senderDb, load.ids);
    const e2eAtMax = await e2eLatency(receiverDb, load.ids);

    const halfRate = Math.max(1, Math.floor(e2eRate / 2));
    say(`half load: ${halfRate} POSTs/s for ${settings.halfLoadS} s`);
    const half = await driveLoad(senderUrl, settings.halfLoadS, {
      concurrency: settings.concurrency,
      ratePerS: halfRate,
      prefix: "half",
    });
    const halfApplied = await waitApplied(receiverDb, half.ids, 60_000);
    const publishAtHalf = await publishLatency(senderDb, half.ids);
    const e2eAtHalf = await e2eLatency(receiverDb, half.ids);

    say(`backlog of ${settings.backlog} rows committed at once, drained by the app's relay`);
    const backlog = await backlogDrain(pool, receiverDb, settings.backlog);
    const backlogApplied = await waitApplied(receiverDb, backlog.ids, 10_000);

    const all = [...load.ids, ...half.ids, ...backlog.ids];
    const counts = new Map([...loadApplied.counts, ...halfApplied.counts, ...backlogApplied.counts]);
    const lost = all.filter((id) => !counts.has(id)).length;
    const duplicatesApplied = [...counts.values()].filter((n) => n > 1).length;

    say(`idle CPU of the sender over ${settings.idleS} s`);
    const pid = app.resource("sender").pid;
    let idleCpuPercent = Number.NaN;
    if (pid !== null) {
      await delay(2_000);
      const before = cpuSeconds(pid);
      await delay(settings.idleS * 1000);
      idleCpuPercent = ((cpuSeconds(pid) - before) / settings.idleS) * 100;
    }

    say(`raw PostgreSQL insert transaction for ${settings.rawS} s`);
    const rawPg = await rawPostgres(db, settings.rawS, settings.concurrency);
    await pool.query("DELETE FROM outbox_messages WHERE destination = $1", [RAW_PG_DESTINATION]);
    await pool.query("DELETE FROM entity_items WHERE name LIKE 'rawpg-%'");

    say(`raw Artemis durable send → receive for ${settings.rawS} s`);
    const rawBrokerRate = await rawBroker(brokerUrl, settings.rawS);

    say(`the seed's relay algorithm for ${settings.seedS} s`);
    const seedRate = await seedRelay(db, pool, brokerUrl, settings.seedS);
    await pool.end();

    const result = {
      e2e_msgs_per_s: round(e2eRate),
      raw_pg_tx_per_s: round(rawPg),
      raw_broker_msgs_per_s: round(rawBrokerRate),
      seed_relay_msgs_per_s: round(seedRate),
      publish_latency_ms: publishAtHalf,
      e2e_latency_ms: e2eAtHalf,
      idle_cpu_percent: round(idleCpuPercent, 2),
      lost,
      duplicates_applied: duplicatesApplied,
      half_load_msgs_per_s: halfRate,
      backlog_relay_msgs_per_s: round(backlog.relayRate),
      backlog_e2e_msgs_per_s: round(backlog.e2eRate),
      publish_latency_at_max_ms: publishAtMax,
      e2e_latency_at_max_ms: e2eAtMax,
      post_rate_per_s: round(postRate),
      sender_cpu_percent_at_max_load: round(loadCpuPercent),
      load_average_1m: round(os.loadavg()[0] ?? 0, 2),
      post_errors: load.errors + half.errors,
      messages: all.length,
      ratio_e2e_vs_min_raw: round(e2eRate / Math.min(rawPg, rawBrokerRate), 2),
      ratio_e2e_vs_seed: round(e2eRate / seedRate, 1),
      machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.release()}, node ${process.version}`,
      mode: quick ? "quick" : "full",
      duration_s: round((Date.now() - started) / 1000, 0),
    };
    printTable(result);
    if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await stopTestApp(app);
  }
}

function printTable(r: {
  e2e_msgs_per_s: number;
  raw_pg_tx_per_s: number;
  raw_broker_msgs_per_s: number;
  seed_relay_msgs_per_s: number;
  publish_latency_ms: Percentiles;
  e2e_latency_ms: Percentiles;
  publish_latency_at_max_ms: Percentiles;
  e2e_latency_at_max_ms: Percentiles;
  idle_cpu_percent: number;
  lost: number;
  duplicates_applied: number;
  half_load_msgs_per_s: number;
  backlog_relay_msgs_per_s: number;
  backlog_e2e_msgs_per_s: number;
  post_rate_per_s: number;
  ratio_e2e_vs_min_raw: number;
  ratio_e2e_vs_seed: number;
  machine: string;
}): void {
  const p = (x: Percentiles) => `p50 ${x.p50} / p95 ${x.p95} / p99 ${x.p99} ms`;
  const ok = (pass: boolean) => (pass ? "met" : "NOT met");
  const rows: Array<[string, string, string]> = [
    ["end-to-end throughput (applied/s)", `${r.e2e_msgs_per_s}`, `POST rate ${r.post_rate_per_s}/s`],
    ["backlog: relay publish rate (msgs/s)", `${r.backlog_relay_msgs_per_s}`, "no HTTP"],
    ["backlog: end-to-end (applied/s)", `${r.backlog_e2e_msgs_per_s}`, "no HTTP"],
    ["raw PostgreSQL insert tx/s", `${r.raw_pg_tx_per_s}`, ""],
    ["raw Artemis durable msgs/s", `${r.raw_broker_msgs_per_s}`, ""],
    [
      "e2e / min(raw pg, raw broker)",
      `${r.ratio_e2e_vs_min_raw}`,
      `≥ 0.5: ${ok(r.ratio_e2e_vs_min_raw >= 0.5)}`,
    ],
    ["seed relay msgs/s", `${r.seed_relay_msgs_per_s}`, ""],
    ["e2e / seed relay", `${r.ratio_e2e_vs_seed}×`, `≥ 20×: ${ok(r.ratio_e2e_vs_seed >= 20)}`],
    [
      `commit→accepted at ${r.half_load_msgs_per_s}/s`,
      p(r.publish_latency_ms),
      `p99 ≤ 25 ms: ${ok(r.publish_latency_ms.p99 <= 25)}`,
    ],
    [`commit→applied at ${r.half_load_msgs_per_s}/s`, p(r.e2e_latency_ms), ""],
    ["commit→accepted at max load", p(r.publish_latency_at_max_ms), ""],
    ["commit→applied at max load", p(r.e2e_latency_at_max_ms), ""],
    ["sender CPU idle (%)", `${r.idle_cpu_percent}`, `< 1%: ${ok(r.idle_cpu_percent < 1)}`],
    ["lost", `${r.lost}`, ok(r.lost === 0)],
    ["duplicates applied", `${r.duplicates_applied}`, ok(r.duplicates_applied === 0)],
  ];
  const w0 = Math.max(...rows.map((x) => x[0].length));
  const w1 = Math.max(...rows.map((x) => x[1].length));
  const lines = [
    `machine: ${r.machine}`,
    ...rows.map(([a, b, c]) => `${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}`),
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(
      `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
