// `npm run bench [-- --quick] [-- --json]`: measures the outbox relay on the real stack (process
// provider: embedded PostgreSQL, Artemis, sender and receiver services) and prints a table; with
// --json the last line is one JSON object. Not part of `npm test`. How to read it: docs/performance.md.
import { AmqpConnection } from "@outbox/messaging";
import { writeFileSync } from "node:fs";
import path from "node:path";
import os from "node:os";
import { v7 as uuidv7 } from "uuid";
import type pg from "pg";
import { sql } from "drizzle-orm";
import type { DistributedApplication, NodeServiceResource } from "@outbox/apphost";
import { repositoryRoot, startTestApp, stopTestApp } from "@outbox/apphost/testing";
import type { Database } from "../../sender-service/src/data/db.js";
import { insertEntityItem } from "../../sender-service/src/data/entity-items.js";
import { outbox } from "../../sender-service/src/messaging/outbox.js";
import { AmqpPublisher, toAmqpEnvelope } from "@outbox/messaging";
import { toOutgoingEnvelope } from "../../messaging/src/outbox/outgoing-envelope.js";
import { delay, logger, openDatabase, QueueDrain } from "../support/relay-harness.js";
import { latencyCurveSvg, type CurvePoint } from "./latency-chart.js";
import { dropPeerSchema, preparePeerSchema, runPeer, TUNED_CANDIDATES, type PeerResult } from "./peer.js";
import { type Components } from "./proc-stats.js";
import { finishedRowCounts, SCALE_SIZES, seedFinishedRows } from "./scale.js";
import { checkTargets } from "./targets.js";
import { telemetryOff, telemetryOn } from "./telemetry-switch.js";
import { entityCreatedRow } from "../support/outbox-events.js";
import { BENCH_USAGE, parseBenchArgs, type BenchArgs } from "./bench-args.js";
import { cpuPerMessageTable } from "./cpu-per-message.js";
import {
  backlogDrain,
  driveLoad,
  e2eLatency,
  idleCpu as measureIdleCpu,
  maxLoad as maxLoadAt,
  publishLatency,
  round,
  say,
  waitApplied,
  warmUpAfterRestart as warmUpAt,
  type Percentiles,
} from "./scenarios.js";
import { runBaselineComparison } from "./baseline-run.js";
import { benchModel } from "./bench-model.js";
import { kafkaTable, kafkaVsArtemis, runKafkaPhases, type KafkaFigures } from "./kafka-phases.js";

const args = ((): BenchArgs => {
  try {
    return parseBenchArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  }
})();
const { quick, json } = args;

const settings = quick
  ? {
      loadS: 15,
      halfLoadS: 10,
      rawS: 6,
      seedS: 12,
      idleS: 10,
      concurrency: 32,
      backlog: 3_000,
      curveS: 4,
      curveFractions: [0.25, 0.5, 0.75, 1],
      peerS: 6,
      scaleS: 6,
    }
  : {
      loadS: 60,
      halfLoadS: 30,
      rawS: 20,
      seedS: 30,
      idleS: 10,
      concurrency: 32,
      backlog: 10_000,
      curveS: 15,
      curveFractions: [0.2, 0.4, 0.6, 0.8, 1, 1.2],
      peerS: 20,
      scaleS: 20,
    };

// Queues of relayTestModel() that no relay serves: the raw and seed runs use them.
const RAW_BROKER_QUEUE = "relay-test-10";
const RAW_PG_DESTINATION = "relay-test-11";
const SEED_QUEUE = "relay-test-9";
const PEER_QUEUE = "relay-test-8";
const CHART_FILE = path.join(repositoryRoot, "docs", "latency-curve.svg");

function maxLoad(app: DistributedApplication, durationS: number, prefix: string, extra: Components = {}) {
  return maxLoadAt(app, durationS, prefix, settings.concurrency, extra);
}

function warmUpAfterRestart(senderUrl: string, prefix: string): Promise<void> {
  return warmUpAt(senderUrl, prefix, settings.concurrency);
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
          await outbox.enqueue(
            tx,
            entityCreatedRow(id, `rawpg-${done}`, {
              destination: RAW_PG_DESTINATION,
              description: "x".repeat(64),
            }),
          );
        });
        done++;
      }
    }),
  );
  return done / durationS;
}

function sampleMessage(i: number) {
  const id = uuidv7();
  return toAmqpEnvelope(
    toOutgoingEnvelope({
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
    }),
  );
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
        toAmqpEnvelope(
          toOutgoingEnvelope({
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
        ),
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

/** Open-loop runs at fractions of the measured maximum: commit → applied percentiles per rate. */
async function latencyCurve(app: DistributedApplication, maxRate: number) {
  const senderUrl = app.getEndpoint("sender");
  const receiverDb = app.getConnectionString("receiverdb");
  const points: CurvePoint[] = [];
  const ids: string[] = [];
  const counts = new Map<string, number>();
  let errors = 0;
  for (const fraction of settings.curveFractions) {
    const rate = Math.max(1, Math.round(maxRate * fraction));
    say(`latency curve: ${rate} POSTs/s for ${settings.curveS} s`);
    const run = await driveLoad(senderUrl, settings.curveS, {
      concurrency: settings.concurrency,
      ratePerS: rate,
      prefix: `curve-${rate}`,
    });
    const applied = await waitApplied(receiverDb, run.ids, 60_000);
    const latency = await e2eLatency(receiverDb, run.ids);
    points.push({ rate, p50: latency.p50, p99: latency.p99 });
    ids.push(...run.ids);
    for (const [id, n] of applied.counts) counts.set(id, n);
    errors += run.errors;
  }
  return { points, ids, counts, errors };
}

async function main(): Promise<void> {
  if (args.help) {
    process.stdout.write(`${BENCH_USAGE}\n`);
    return;
  }
  if (args.baseline) {
    await runBaselineComparison({
      repoRoot: repositoryRoot,
      ref: args.baseline.ref,
      rounds: args.rounds ?? 3,
      json,
      settings: {
        loadS: settings.loadS,
        halfLoadS: settings.halfLoadS,
        idleS: settings.idleS,
        backlog: settings.backlog,
        concurrency: settings.concurrency,
      },
      model: () => benchModel(settings.concurrency),
    });
    return;
  }
  const started = Date.now();
  const artemis = args.transport === "kafka" ? null : await runArtemis();
  let kafka: KafkaFigures | null = null;
  let kafkaError: string | null = null;
  if (args.transport !== "artemis") {
    try {
      kafka = await runKafkaPhases(
        {
          loadS: settings.loadS,
          halfLoadS: settings.halfLoadS,
          rawS: settings.rawS,
          backlog: settings.backlog,
          concurrency: settings.concurrency,
        },
        say,
      );
    } catch (error) {
      // Alone, a failure is the run's; beside Artemis, the Artemis figures are still reported.
      if (artemis === null) throw error;
      kafkaError = error instanceof Error ? (error.stack ?? error.message) : String(error);
      say(`the Kafka phases failed: ${kafkaError}`);
      process.exitCode = 1;
    }
  }
  if (kafka) {
    process.stdout.write(`${kafkaTable(kafka, artemis)}\n`);
    process.stdout.write(
      `${cpuPerMessageTable({ "Kafka max load": kafka.kafka_cpu_us_per_msg, "Kafka backlog": kafka.kafka_cpu_us_per_msg_backlog })}\n`,
    );
  }
  const result = {
    ...artemis,
    ...kafka,
    ...(artemis && kafka ? kafkaVsArtemis(kafka, artemis) : {}),
    ...(kafkaError === null ? {} : { kafka_error: kafkaError }),
    transport: args.transport ?? "both",
    duration_s: round((Date.now() - started) / 1000, 0),
  };
  if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
}

/** Today's run on Artemis: prints its table and returns the figures (the unprefixed keys). */
async function runArtemis() {
  const started = Date.now();
  say(`starting the stack (${quick ? "quick" : "full"} run)`);
  const model = benchModel(settings.concurrency);
  const sender = model.resources().find((r) => r.name === "sender") as NodeServiceResource;
  const receiver = model.resources().find((r) => r.name === "receiver") as NodeServiceResource;
  const app: DistributedApplication = await startTestApp({ model });
  // Ctrl+C or a kill of the bench must not leave the stack it started running.
  const interrupted = (signal: NodeJS.Signals): void => {
    say(`${signal}: stopping the stack`);
    void stopTestApp(app).finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  };
  process.once("SIGINT", interrupted);
  process.once("SIGTERM", interrupted);
  try {
    const senderUrl = app.getEndpoint("sender");
    const senderDb = app.getConnectionString("senderdb");
    // The peer creates its own table and, in replication mode, a publication and a slot: the
    // services' runtime role may do neither, so the peer runs as the server's superuser.
    const peerDb = new URL(app.getConnectionString("sender-pg"));
    peerDb.pathname = `/${new URL(senderDb).pathname.slice(1)}`;
    const receiverDb = app.getConnectionString("receiverdb");
    const brokerUrl = app.getConnectionString("broker");
    const { db, pool } = openDatabase(senderDb);

    // The same warm-up as after every restart, so that telemetry on and off compare like for like.
    await warmUpAfterRestart(senderUrl, "warmup");

    say(`max load: ${settings.concurrency} concurrent POSTs for ${settings.loadS} s (CPU and RSS sampled)`);
    const max = await maxLoad(app, settings.loadS, "load");
    const { load, e2eRate } = max;
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

    const curve = await latencyCurve(app, e2eRate);

    say(`backlog of ${settings.backlog} rows committed at once, drained by the app's relay`);
    const backlog = await backlogDrain(app, pool, settings.backlog);
    const backlogApplied = await waitApplied(receiverDb, backlog.ids, 10_000);

    const all = [...load.ids, ...half.ids, ...curve.ids, ...backlog.ids];
    const counts = new Map([
      ...max.applied.counts,
      ...halfApplied.counts,
      ...curve.counts,
      ...backlogApplied.counts,
    ]);

    say(`idle CPU per component over ${settings.idleS} s`);
    const idleCpu = await measureIdleCpu(app, settings.idleS);
    const idleCpuPercent = idleCpu.sender ?? Number.NaN;

    say(`raw PostgreSQL insert transaction for ${settings.rawS} s`);
    const rawPg = await rawPostgres(db, settings.rawS, settings.concurrency);
    await pool.query("DELETE FROM outbox_messages WHERE destination = $1", [RAW_PG_DESTINATION]);
    await pool.query("DELETE FROM entity_items WHERE name LIKE 'rawpg-%'");

    say(`raw Artemis durable send → receive for ${settings.rawS} s`);
    const rawBrokerRate = await rawBroker(brokerUrl, settings.rawS);

    say(`the seed's relay algorithm for ${settings.seedS} s`);
    const seedRate = await seedRelay(db, pool, brokerUrl, settings.seedS);

    const peers: Record<string, PeerResult> = {};
    const tunedSweep: PeerResult[] = [];
    await preparePeerSchema(peerDb.href);
    try {
      const peerRun = (mode: PeerResult["mode"], setting?: PeerResult["setting"]) => {
        say(
          `pg-transactional-outbox ${mode}${setting ? ` ${JSON.stringify(setting)}` : ""}: backlog of ${settings.backlog}, up to ${settings.peerS} s`,
        );
        return runPeer({
          mode,
          databaseUrl: peerDb.href,
          brokerUrl,
          queue: PEER_QUEUE,
          backlog: settings.backlog,
          windowS: settings.peerS,
          ...(setting ? { setting } : {}),
        });
      };
      peers.default = await peerRun("default");
      for (const setting of TUNED_CANDIDATES[quick ? "quick" : "full"])
        tunedSweep.push(await peerRun("tuned", setting));
      // Best tuned = the fastest setting tried, its defaults included: tuning never reports worse.
      peers.tuned = [peers.default, ...tunedSweep].reduce((best, r) =>
        (r.msgsPerS ?? 0) > (best.msgsPerS ?? 0) ? r : best,
      );
      peers.replication = await peerRun("replication");
      for (const [mode, r] of Object.entries(peers)) if (r.error) say(`  ${mode}: no figure (${r.error})`);
    } finally {
      await dropPeerSchema(peerDb.href);
    }

    say(`telemetry on (dashboard OTLP intake): max load for ${settings.loadS} s`);
    const telemetry = await telemetryOn(app, [sender, receiver]);
    let withTelemetry: Awaited<ReturnType<typeof maxLoad>>;
    try {
      // The services were just restarted: cold JIT and pools would count against telemetry.
      await warmUpAfterRestart(senderUrl, "warmup-otel");
      withTelemetry = await maxLoad(app, settings.loadS, "otel", {
        dashboard: telemetry.dashboard.pid ?? null,
      });
    } finally {
      await telemetryOff(app, telemetry);
    }
    all.push(...withTelemetry.load.ids);
    for (const [id, n] of withTelemetry.applied.counts) counts.set(id, n);
    // Restarted again without telemetry: warm before the first scale point, for the same reason.
    await warmUpAfterRestart(senderUrl, "warmup-after-otel");

    const scaleCost: Record<string, number> = {};
    const scaleRate: Record<string, number> = {};
    const scaleRows: Record<string, { outbox: number; inbox: number }> = {};
    let seeded = 0;
    for (const size of SCALE_SIZES) {
      say(`scale: ${size.key} finished rows present, max load for ${settings.scaleS} s`);
      await seedFinishedRows(senderDb, receiverDb, size.rows - seeded);
      seeded = size.rows;
      scaleRows[size.key] = await finishedRowCounts(senderDb, receiverDb);
      // Seeding evicted the hot pages from the caches.
      await driveLoad(senderUrl, 2, { concurrency: 8, prefix: `warmup-scale-${size.key}` });
      await delay(1_000);
      const run = await maxLoad(app, settings.scaleS, `scale-${size.key}`);
      const stackCpuS =
        (Object.entries(run.profile.cpuPercent)
          .filter(([k]) => k !== "load-generator")
          .reduce((sum, [, v]) => sum + v, 0) /
          100) *
        run.profile.windowS;
      // CPU milliseconds the whole stack spends per applied message: robust to other load on the
      // machine in a way wall-clock time is not.
      scaleCost[size.key] = round((stackCpuS * 1000) / Math.max(1, run.applied.counts.size), 2);
      scaleRate[size.key] = round(run.e2eRate);
      all.push(...run.load.ids);
      for (const [id, n] of run.applied.counts) counts.set(id, n);
    }
    await pool.end();

    const lost = all.filter((id) => !counts.has(id)).length;
    const duplicatesApplied = [...counts.values()].filter((n) => n > 1).length;

    const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.release()}, node ${process.version}`;
    writeFileSync(
      CHART_FILE,
      latencyCurveSvg(
        curve.points,
        `${quick ? "quick" : "full"} run, ${new Date().toISOString().slice(0, 16)}Z, ${machine}`,
      ),
    );

    const peerRate = (mode: string) => {
      const r = peers[mode]?.msgsPerS;
      return r === null || r === undefined ? null : round(r);
    };
    const ratio = (ours: number, theirs: number | null, digits = 1) =>
      theirs === null || theirs <= 0 ? null : round(ours / theirs, digits);
    const telemetryOnRate = withTelemetry.e2eRate;
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
      sender_cpu_percent_at_max_load: max.profile.cpuPercent.sender ?? Number.NaN,
      load_average_1m: round(os.loadavg()[0] ?? 0, 2),
      post_errors: load.errors + half.errors + curve.errors + withTelemetry.load.errors,
      messages: all.length,
      ratio_e2e_vs_min_raw: round(e2eRate / Math.min(rawPg, rawBrokerRate), 2),
      ratio_e2e_vs_seed: round(e2eRate / seedRate, 1),
      // The npm peer's relay over the same backlog, same publisher, same broker.
      peer_default_msgs_per_s: peerRate("default"),
      peer_tuned_msgs_per_s: peerRate("tuned"),
      peer_replication_msgs_per_s: peerRate("replication"),
      peer_tuned_setting: peers.tuned?.setting ?? "defaults",
      peer_tuned_sweep: tunedSweep.map((r) => ({
        ...r.setting,
        msgs_per_s: r.msgsPerS === null ? null : round(r.msgsPerS),
      })),
      peer_errors: Object.fromEntries(
        Object.entries(peers).flatMap(([k, v]) => (v.error ? [[k, v.error]] : [])),
      ),
      // Ours (backlog relay rate) over theirs, relay against relay.
      ratio_relay_vs_peer_default: ratio(backlog.relayRate, peerRate("default")),
      ratio_relay_vs_peer_tuned: ratio(backlog.relayRate, peerRate("tuned"), 2),
      ratio_relay_vs_peer_replication: ratio(backlog.relayRate, peerRate("replication"), 2),
      e2e_telemetry_on_msgs_per_s: round(telemetryOnRate),
      ratio_telemetry_on_vs_off: round(telemetryOnRate / e2eRate, 2),
      scale_cost_per_msg_ms: scaleCost,
      scale_e2e_msgs_per_s: scaleRate,
      scale_rows_present: scaleRows,
      cpu_percent: max.profile.cpuPercent,
      cpu_percent_telemetry_on: withTelemetry.profile.cpuPercent,
      idle_cpu_percent_by_component: idleCpu,
      rss_mb: max.profile.rssMb,
      // µs of CPU per applied message per component (keys: docs/performance.md): under max load
      // (HTTP + relay + receiver) and for the committed backlog (relay + receiver, no HTTP).
      cpu_us_per_msg: max.cpuPerMsg,
      cpu_us_per_msg_backlog: backlog.cpuPerMsg,
      latency_curve: curve.points,
      latency_chart: path.relative(repositoryRoot, CHART_FILE),
      targets: {} as ReturnType<typeof checkTargets>,
      machine,
      mode: quick ? "quick" : "full",
      duration_s: 0,
    };
    result.targets = checkTargets({
      e2eVsMinRaw: result.ratio_e2e_vs_min_raw,
      vsPeerDefault: result.ratio_relay_vs_peer_default,
      vsPeerTuned: result.ratio_relay_vs_peer_tuned,
      publishP99AtHalf: publishAtHalf.p99,
      e2eP99AtHalf: e2eAtHalf.p99,
      backlogVsRawBroker: round(backlog.relayRate / rawBrokerRate, 2),
      telemetryOnVsOff: result.ratio_telemetry_on_vs_off,
      scaleCost1mVs10k:
        scaleCost["1m"] !== undefined && scaleCost["10k"]
          ? round(scaleCost["1m"] / scaleCost["10k"], 2)
          : null,
      idleCpuPercent: result.idle_cpu_percent,
      lost,
      duplicates: duplicatesApplied,
    });
    result.duration_s = round((Date.now() - started) / 1000, 0);
    printTable(result);
    process.stdout.write(
      `${cpuPerMessageTable({ "max load": result.cpu_us_per_msg, backlog: result.cpu_us_per_msg_backlog })}\n`,
    );
    return result;
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
  lost: number;
  duplicates_applied: number;
  half_load_msgs_per_s: number;
  backlog_relay_msgs_per_s: number;
  backlog_e2e_msgs_per_s: number;
  post_rate_per_s: number;
  ratio_e2e_vs_seed: number;
  peer_default_msgs_per_s: number | null;
  peer_tuned_msgs_per_s: number | null;
  peer_replication_msgs_per_s: number | null;
  ratio_relay_vs_peer_replication: number | null;
  e2e_telemetry_on_msgs_per_s: number;
  scale_cost_per_msg_ms: Record<string, number>;
  scale_e2e_msgs_per_s: Record<string, number>;
  cpu_percent: Record<string, number>;
  rss_mb: Record<string, number>;
  latency_curve: CurvePoint[];
  targets: ReturnType<typeof checkTargets>;
  machine: string;
}): void {
  const p = (x: Percentiles) => `p50 ${x.p50} / p95 ${x.p95} / p99 ${x.p99} ms`;
  const t = (key: keyof ReturnType<typeof checkTargets>, label: string) => {
    const c = r.targets[key];
    const verdict = c.met === null ? "no figure" : c.met ? "met" : "NOT met";
    return `${label}: ${verdict}${c.ratio === null ? "" : ` (×${c.ratio} of target)`}`;
  };
  const byComponent = (o: Record<string, number>, unit: string) =>
    Object.entries(o)
      .map(([k, v]) => `${k} ${v}${unit}`)
      .join(", ");
  const rows: Array<[string, string, string]> = [
    ["end-to-end throughput (applied/s)", `${r.e2e_msgs_per_s}`, `POST rate ${r.post_rate_per_s}/s`],
    [
      "backlog: relay publish rate (msgs/s)",
      `${r.backlog_relay_msgs_per_s}`,
      t("backlog_relay_vs_raw_broker", "≥ 0.5 raw Artemis"),
    ],
    ["backlog: end-to-end (applied/s)", `${r.backlog_e2e_msgs_per_s}`, "no HTTP"],
    ["raw PostgreSQL insert tx/s", `${r.raw_pg_tx_per_s}`, ""],
    ["raw Artemis durable msgs/s", `${r.raw_broker_msgs_per_s}`, ""],
    ["e2e / min(raw pg, raw broker)", `${r.targets.e2e_vs_min_raw.value}`, t("e2e_vs_min_raw", "≥ 0.5")],
    ["seed relay msgs/s", `${r.seed_relay_msgs_per_s}`, `e2e ${r.ratio_e2e_vs_seed}× seed`],
    [
      "pg-transactional-outbox default (msgs/s)",
      `${r.peer_default_msgs_per_s ?? "—"}`,
      t("vs_peer_default", "relay ≥ 10×"),
    ],
    [
      "pg-transactional-outbox tuned (msgs/s)",
      `${r.peer_tuned_msgs_per_s ?? "—"}`,
      t("vs_peer_tuned", "relay ≥ 2×"),
    ],
    [
      "pg-transactional-outbox replication (msgs/s)",
      `${r.peer_replication_msgs_per_s ?? "—"}`,
      `relay ${r.ratio_relay_vs_peer_replication ?? "—"}×`,
    ],
    [
      "e2e with telemetry on (applied/s)",
      `${r.e2e_telemetry_on_msgs_per_s}`,
      t("telemetry_on_vs_off", "≥ 0.8 of off"),
    ],
    [
      `commit→accepted at ${r.half_load_msgs_per_s}/s`,
      p(r.publish_latency_ms),
      t("publish_p99_at_half_ms", "p99 ≤ 10 ms"),
    ],
    [
      `commit→applied at ${r.half_load_msgs_per_s}/s`,
      p(r.e2e_latency_ms),
      t("e2e_p99_at_half_ms", "p99 ≤ 25 ms"),
    ],
    ["commit→accepted at max load", p(r.publish_latency_at_max_ms), ""],
    ["commit→applied at max load", p(r.e2e_latency_at_max_ms), ""],
    [
      "latency curve (rate: p50/p99 ms)",
      r.latency_curve.map((c) => `${c.rate}: ${c.p50}/${c.p99}`).join(", "),
      "",
    ],
    [
      "CPU ms per message (10k/100k/1m rows)",
      ["10k", "100k", "1m"].map((k) => r.scale_cost_per_msg_ms[k] ?? "—").join(" / "),
      t("scale_cost_1m_vs_10k", "1m ≤ 1.2 × 10k"),
    ],
    [
      "applied/s (10k/100k/1m rows)",
      ["10k", "100k", "1m"].map((k) => r.scale_e2e_msgs_per_s[k] ?? "—").join(" / "),
      "",
    ],
    ["CPU at max load (% of one core)", byComponent(r.cpu_percent, "%"), ""],
    ["RSS at max load", byComponent(r.rss_mb, " MiB"), ""],
    ["sender CPU idle (%)", `${r.targets.idle_cpu_percent.value}`, t("idle_cpu_percent", "< 1%")],
    ["lost", `${r.lost}`, r.lost === 0 ? "met" : "NOT met"],
    ["duplicates applied", `${r.duplicates_applied}`, r.duplicates_applied === 0 ? "met" : "NOT met"],
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
  () => process.exit(process.exitCode ?? 0),
  (error: unknown) => {
    process.stderr.write(
      `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
