// npm run soak -- [--transport artemis|kafka] [--messages N] [--seed S] [--clients C] [--min-faults F] [--json]
// The chaos soak (docs/soak.md): load + random faults on every component, then the checks.
import { parseArgs } from "node:util";
import { runSoak } from "./run-soak.js";
import { parseSoakTransport, type SoakTransport } from "./soak-model.js";

const { values } = parseArgs({
  options: {
    transport: { type: "string", default: "artemis" },
    messages: { type: "string", default: "100000" },
    seed: { type: "string" },
    clients: { type: "string", default: "16" },
    "min-faults": { type: "string", default: "5" },
    "fault-interval-ms": { type: "string", default: "3000-8000" },
    "max-updates": { type: "string", default: "3" },
    "drain-timeout-s": { type: "string", default: "600" },
    json: { type: "boolean", default: false },
  },
});

function positiveInt(name: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) {
    process.stderr.write(`--${name} must be a non-negative integer, got ${value}\n`);
    process.exit(2);
  }
  return n;
}

const transport = ((): SoakTransport => {
  try {
    return parseSoakTransport(values.transport);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  }
})();
const [minMs, maxMs] = (values["fault-interval-ms"] ?? "").split("-").map(Number);
const seed =
  values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : positiveInt("seed", values.seed);
const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

const report = await runSoak({
  transport,
  messages: positiveInt("messages", values.messages),
  seed,
  clients: Math.max(1, positiveInt("clients", values.clients)),
  maxUpdates: positiveInt("max-updates", values["max-updates"]),
  faultIntervalMs: { min: minMs ?? 3000, max: maxMs ?? minMs ?? 8000 },
  minFaultsPerComponent: positiveInt("min-faults", values["min-faults"]),
  drainTimeoutMs: positiveInt("drain-timeout-s", values["drain-timeout-s"]) * 1000,
  log,
});

const { fault_log: faultLog, ...summary } = report;
log("");
log(
  `seed                 ${report.seed}  (replay: npm run soak -- --transport ${transport} --seed ${report.seed} --messages ${values.messages})`,
);
log(
  `messages             ${report.messages} (${report.creates} creates, ${report.updates} updates), ${report.retries} client retries`,
);
log(
  `faults               ${Object.entries(report.faults)
    .map(([c, n]) => `${c} ${n}`)
    .join(", ")} (${faultLog.length} in all)`,
);
log(`longest pending      ${report.longest_pending_ms} ms`);
log(`drain after last     ${report.drain_s} s`);
log(`lost                 ${report.lost}`);
log(`duplicates applied   ${report.duplicates_applied}`);
log(
  transport === "kafka"
    ? `copies on topic      ${report.copies_on_queue} (skipped by the inbox; topic witness: ${report.witness_missing} outbox rows missing)${report.copied_ids.map((c) => ` ${c.messageId}×${c.times}`).join("")}`
    : `copies on queue      ${report.copies_on_queue} (witness queue: ${report.witness_missing} outbox rows missing)${report.copied_ids.map((c) => ` ${c.messageId}×${c.times}`).join("")}`,
);
log(
  `redeliveries skipped ${report.redeliveries_skipped} with a delivery-count, ${report.redeliveries_uncounted} with count 0, after: ${
    Object.entries(report.redeliveries_uncounted_after)
      .map(([fault, n]) => `${fault} ${n}`)
      .join(", ") || "-"
  }`,
);
log(
  `out of order         ${report.out_of_order} (arrivals before their predecessor, redelivered: ${report.out_of_order_arrivals})`,
);
log(`not delivered        ${report.not_delivered}`);
log(
  `dead-lettered        ${report.dead_lettered}, audit missing ${report.audit_missing}, unexpected answers ${report.unexpected_answers}`,
);
log(
  `result               ${report.passed ? "PASSED" : `FAILED (${report.failed_checks.join(", ")})`} in ${report.duration_s} s`,
);
if (values.json) process.stdout.write(`${JSON.stringify({ ...summary, fault_log: faultLog })}\n`);
process.exitCode = report.passed ? 0 : 1;
