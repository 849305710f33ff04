// Artemis SIGKILLed while the relay has sends without an outcome (issue 11, "tests that can
// fail"): not a broker that is down before the POSTs, but one that dies under traffic with
// messages between the relay and its journal. The broker is stalled first (SIGSTOP, so no
// outcome can come back) until the relay holds claimed rows it has sent, then killed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DistributedApplication } from "@outbox/apphost";
import { startTestApp, stopTestApp } from "@outbox/apphost/testing";
import { eventually } from "./support/receiver.js";
import { signalGroup } from "./support/signals.js";
import { startTraffic } from "./support/traffic.js";
import { appliedCounts, query, waitForApplied, waitForQuiet } from "./support/system.js";

let app: DistributedApplication;

beforeAll(async () => {
  app = await startTestApp({ mode: "process" });
}, 600_000);

afterAll(async () => {
  await stopTestApp(app);
});

/** Outbox rows a relay has claimed and not settled: their sends are out, their outcomes are not in. */
async function unsettledClaims(): Promise<number> {
  const [row] = await query<{ n: number }>(
    app.getConnectionString("senderdb"),
    "SELECT count(*)::int AS n FROM outbox_messages WHERE status = 'pending' AND locked_until > now()",
  );
  return row?.n ?? 0;
}

describe("broker killed while sends are unsettled", () => {
  it("loses nothing and applies nothing twice", async () => {
    const traffic = startTraffic(app.getEndpoint("sender"), "unsettled");
    let unsettled = 0;
    try {
      await traffic.waitForAccepted(20);
      await waitForApplied(app, traffic.accepted().slice(0, 5));
      const pid = app.resource("broker").pid;
      expect(pid).toBeGreaterThan(0);
      signalGroup(pid!, "SIGSTOP");
      try {
        // Precondition: the relay holds sends without an outcome at the moment of the kill.
        unsettled = await eventually(
          "relay claims whose sends have no outcome",
          async () => {
            const n = await unsettledClaims();
            return n > 0 ? n : undefined;
          },
          30_000,
        );
        await app.killResource("broker");
      } finally {
        // A stopped process that somehow survived must not hang the stop.
        signalGroup(pid!, "SIGCONT");
      }
      expect(app.resource("broker").state).toBe("Exited");
      // Writes keep succeeding into the outbox while the broker is gone.
      await traffic.waitForAccepted(traffic.accepted().length + 10);
      await app.startResource("broker");
      await app.waitForHealthy("broker");
      await traffic.waitForAccepted(traffic.accepted().length + 20);
    } finally {
      await traffic.stop();
    }
    expect(unsettled).toBeGreaterThan(0);

    const ids = traffic.accepted();
    const applied = await waitForApplied(app, ids, 180_000);
    expect(applied.size, "every accepted entity applied").toBe(ids.length);
    await waitForQuiet(app, 180_000);
    const final = await appliedCounts(app, ids);
    expect(
      [...final].filter(([, n]) => n !== 1),
      "entities applied more than once",
    ).toEqual([]);
    const [open] = await query<{ n: number }>(
      app.getConnectionString("senderdb"),
      "SELECT count(*)::int AS n FROM outbox_messages WHERE status <> 'delivered'",
    );
    expect(open?.n).toBe(0);
  });
});
