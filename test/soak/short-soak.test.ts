import { describe, expect, it } from "vitest";
import { COMPONENTS } from "./chaos.js";
import { runSoak } from "./run-soak.js";
import { parseSoakTransport } from "./soak-model.js";

// The chaos soak, short: a couple of thousand messages while every component (broker, both
// PostgreSQL servers, sender, receiver, the relay's LISTEN connection) is faulted at least once.
// `npm run soak` is the long version (docs/soak.md). SOAK_SEED replays a failing run;
// SOAK_TRANSPORT=kafka runs it on Kafka, where a second copy on the topic is counted, not a failure.
const transport = parseSoakTransport(process.env.SOAK_TRANSPORT);
const seed = Number(process.env.SOAK_SEED ?? Math.floor(Math.random() * 2 ** 31));

describe(`chaos soak (short, ${transport})`, () => {
  it(
    `loses nothing, applies nothing twice, keeps version order, delivers every row, ${transport === "kafka" ? "misses no row on the topic" : "copies nothing on the queue"} (seed ${seed})`,
    async () => {
      const report = await runSoak({
        transport,
        messages: Number(process.env.SOAK_MESSAGES ?? 2_000),
        seed,
        clients: 8,
        maxUpdates: 3,
        faultIntervalMs: { min: 1_000, max: 3_000 },
        minFaultsPerComponent: 1,
        drainTimeoutMs: 300_000,
        log: (line) => process.stderr.write(`${line}\n`),
      });
      const { fault_log: faultLog, ...summary } = report;
      process.stderr.write(`${JSON.stringify(summary)}\n`);
      for (const component of COMPONENTS)
        expect(report.faults[component], component).toBeGreaterThanOrEqual(1);
      expect(faultLog.length).toBeGreaterThanOrEqual(COMPONENTS.length);
      expect({
        lost: report.lost,
        duplicates_applied: report.duplicates_applied,
        out_of_order: report.out_of_order,
        not_delivered: report.not_delivered,
        dead_lettered: report.dead_lettered,
        audit_missing: report.audit_missing,
        unexpected_answers: report.unexpected_answers,
        copies_on_queue: transport === "kafka" ? 0 : report.copies_on_queue,
        witness_missing: report.witness_missing,
      }).toEqual({
        lost: 0,
        duplicates_applied: 0,
        out_of_order: 0,
        not_delivered: 0,
        dead_lettered: 0,
        audit_missing: 0,
        unexpected_answers: 0,
        copies_on_queue: 0,
        witness_missing: 0,
      });
      expect(report.messages).toBeGreaterThanOrEqual(Number(process.env.SOAK_MESSAGES ?? 2_000) - 10);
    },
    30 * 60_000,
  );
});
