import type { DistributedApplication } from "@outbox/apphost";
import { startTestApp, stopTestApp } from "@outbox/apphost/testing";
import { COMPONENTS, runChaos, type Component, type FaultRecord } from "./chaos.js";
import { runLoad, type Confirmed } from "./load.js";
import { SeededRandom } from "./random.js";
import { createWitnessQueue, readWitnessQueue, type WitnessCount } from "./queue-witness.js";
import { readTopicWitness } from "./topic-witness.js";
import { soakModel, type SoakTransport } from "./soak-model.js";
import { drained, longestPendingMs, outboxRows, verify, type Verdict } from "./verify.js";

/** The topic the relay publishes to (apphost.ts), where the witness queue listens too. */
const TOPIC = "entity-items";

export interface SoakOptions {
  /** The broker the system runs on (default artemis). */
  transport?: SoakTransport;
  messages: number;
  seed: number;
  clients: number;
  maxUpdates: number;
  /** Pause between faults. */
  faultIntervalMs: { min: number; max: number };
  /** Keep faulting at least until every component was hit this many times. */
  minFaultsPerComponent: number;
  drainTimeoutMs: number;
  log: (line: string) => void;
}

export interface SoakReport extends Verdict {
  transport: SoakTransport;
  /**
   * Second copies on the queues: outbox ids the broker routed to the topic more than once, counted
   * by the witness queue (queue-witness.ts) on Artemis, by the topic witness (topic-witness.ts) on
   * Kafka. Any is a failure on Artemis (its duplicate-id cache drops a resend); on Kafka a relay
   * killed between the broker's acknowledgement and marking the row writes a second record, which
   * the inbox skips: counted and reported, not a failure.
   */
  copies_on_queue: number;
  /** Up to 10 of those ids, with how many times each was routed. */
  copied_ids: Array<{ messageId: string; times: number }>;
  /** Outbox rows the witness queue never saw (must be 0, or the witness proves nothing). */
  witness_missing: number;
  messages: number;
  creates: number;
  updates: number;
  retries: number;
  unexpected_answers: number;
  faults: Record<Component, number>;
  fault_log: FaultRecord[];
  longest_pending_ms: number;
  drain_s: number;
  duration_s: number;
  seed: number;
  /** The names of the checks below that are not 0. */
  failed_checks: string[];
  passed: boolean;
}

/**
 * Every count that must be 0 for the soak to pass. Repeat deliveries the inbox skipped
 * (redeliveries_skipped, redeliveries_uncounted) are not among them: they are redeliveries of
 * the one copy, as the witness queue shows; a second copy on the queue is (copies_on_queue).
 */
export const MUST_BE_ZERO = [
  "lost",
  "duplicates_applied",
  "out_of_order",
  "not_delivered",
  "dead_lettered",
  "audit_missing",
  "copies_on_queue",
  "witness_missing",
  "unexpected_answers",
] as const satisfies ReadonlyArray<keyof SoakReport>;

export function failedChecks(
  report: Pick<SoakReport, (typeof MUST_BE_ZERO)[number]>,
  transport: SoakTransport = "artemis",
): string[] {
  return MUST_BE_ZERO.filter(
    (check) => report[check] !== 0 && !(transport === "kafka" && check === "copies_on_queue"),
  );
}

/**
 * The chaos soak: start the system, run the load and the chaos driver together, heal, drain, and
 * check every confirmed write against what both consumer groups applied.
 */
export async function runSoak(opts: SoakOptions): Promise<SoakReport> {
  const started = Date.now();
  const loadRandom = new SeededRandom(opts.seed);
  const chaosRandom = new SeededRandom(opts.seed ^ 0x5eed);
  const transport = opts.transport ?? "artemis";
  opts.log(`soak: seed ${opts.seed}, ${opts.messages} messages, ${opts.clients} clients, on ${transport}`);
  let app: DistributedApplication | undefined;
  try {
    app = await startTestApp({ model: soakModel(transport) });
    const running = app;
    // Before the load: the witness must see every message the relay publishes. A Kafka topic
    // keeps every record, so its witness needs nothing before and reads the topic at the end.
    if (transport === "artemis") await createWitnessQueue(running.getConnectionString("broker"), TOPIC);
    const stopChaos = new AbortController();
    const stopLoad = new AbortController();
    const faults: FaultRecord[] = [];
    const chaos = runChaos({
      app: running,
      random: chaosRandom,
      intervalMs: opts.faultIntervalMs,
      log: opts.log,
      signal: stopChaos.signal,
      faults,
    });
    let confirmed: Confirmed;
    try {
      confirmed = await runLoad({
        senderUrl: () => running.getEndpoint("sender"),
        messages: opts.messages,
        clients: opts.clients,
        random: loadRandom,
        maxUpdates: opts.maxUpdates,
        requestTimeoutMs: 15_000,
        signal: stopLoad.signal,
      });
      opts.log(
        `load done: ${confirmed.creates} creates, ${confirmed.updates} updates, ${confirmed.retries} retries`,
      );
      // A short run keeps faulting (without load) until every component was hit often enough.
      while (!enoughFaults(faults, opts.minFaultsPerComponent)) {
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    } finally {
      stopChaos.abort();
      stopLoad.abort();
    }
    await chaos;
    const lastFaultHealedAt = Date.now();
    for (const component of COMPONENTS)
      if (component !== "relay-listen") await running.waitForHealthy(component, 180_000);

    const deadline = Date.now() + opts.drainTimeoutMs;
    while (!(await drained(running, confirmed).catch(() => false)) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    const drainS = (Date.now() - lastFaultHealedAt) / 1000;
    const verdict = await verify(running, confirmed, faults);
    const witness: WitnessCount =
      transport === "kafka"
        ? await readTopicWitness({ bootstrap: running.getConnectionString("broker"), topic: TOPIC })
        : await readWitnessQueue(running.getConnectionString("broker"), TOPIC);
    const report: SoakReport = {
      transport,
      messages: confirmed.creates + confirmed.updates,
      creates: confirmed.creates,
      updates: confirmed.updates,
      retries: confirmed.retries,
      unexpected_answers: confirmed.unexpected.length,
      ...verdict,
      copies_on_queue: witness.messages - witness.distinct,
      copied_ids: witness.copied.slice(0, 10),
      witness_missing: Math.max(0, (await outboxRows(running)) - witness.distinct),
      faults: countFaults(faults),
      fault_log: faults,
      longest_pending_ms: await longestPendingMs(running),
      drain_s: Math.round(drainS * 10) / 10,
      duration_s: Math.round((Date.now() - started) / 1000),
      seed: opts.seed,
      failed_checks: [],
      passed: false,
    };
    for (const line of confirmed.unexpected.slice(0, 10)) opts.log(`unexpected answer: ${line}`);
    report.failed_checks = failedChecks(report, transport);
    report.passed = report.failed_checks.length === 0;
    return report;
  } finally {
    await stopTestApp(app);
  }
}

function enoughFaults(faults: FaultRecord[], min: number): boolean {
  const counts = countFaults(faults);
  return COMPONENTS.every((c) => counts[c] >= min);
}

export function countFaults(faults: FaultRecord[]): Record<Component, number> {
  const counts = Object.fromEntries(COMPONENTS.map((c) => [c, 0])) as Record<Component, number>;
  for (const f of faults) counts[f.component] += 1;
  return counts;
}
