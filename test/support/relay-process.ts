// A relay in its own process, for crash tests (SIGKILL). Configured through the environment:
// RELAY_DATABASE_URL, RELAY_BROKER_URL, RELAY_DESTINATION, RELAY_BATCH_SIZE, RELAY_LEASE_MS and
// RELAY_OUTCOME_DELAY_MS (outcomes are reported this late, so a kill lands between "the broker
// has it" and "marked published"). Prints "relay ready" once started.
import type { PublishOutcome } from "@outbox/messaging";
import { delay, startRelay } from "./relay-harness.js";

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};
const outcomeDelayMs = Number(process.env.RELAY_OUTCOME_DELAY_MS ?? "0");

const handle = startRelay({
  databaseUrl: env("RELAY_DATABASE_URL"),
  brokerUrl: env("RELAY_BROKER_URL"),
  destination: env("RELAY_DESTINATION"),
  owner: `crash-relay-${process.pid}`,
  batchSize: Number(process.env.RELAY_BATCH_SIZE ?? "100"),
  leaseMs: Number(process.env.RELAY_LEASE_MS ?? "15000"),
  concurrency: 1,
  wrapPublisher: (real) => ({
    isSendable: () => real.isSendable(),
    waitUntilSendable: (ms, signal) => real.waitUntilSendable(ms, signal),
    state: () => real.state(),
    close: () => real.close(),
    publish: async (envelope): Promise<PublishOutcome> => {
      const outcome = await real.publish(envelope);
      await delay(outcomeDelayMs);
      return outcome;
    },
  }),
});
process.stdout.write("relay ready\n");
process.on("SIGTERM", () => {
  void handle.stop().then(() => process.exit(0));
});
