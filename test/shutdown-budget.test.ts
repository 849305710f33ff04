import fs from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DistributedApplication } from "@outbox/apphost";
import { startTestApp, stopTestApp } from "@outbox/apphost/testing";
import { waitForApplied } from "./support/system.js";
import { startTraffic } from "./support/traffic.js";

// `docker stop` and Compose wait 10 s after SIGTERM before they SIGKILL; a service that outlives that
// is killed mid-shutdown (claims stay leased, deliveries unsettled). The AppHost itself waits 15 s.
// With its database and broker gone every reconnect and close hangs on timeouts: the budget must
// still hold.
const DOCKER_STOP_BUDGET_MS = 10_000;

let app: DistributedApplication;

beforeAll(async () => {
  app = await startTestApp();
});

afterAll(async () => {
  await stopTestApp(app);
});

async function serviceLog(name: string): Promise<string> {
  return fs.readFile(path.join(app.stateDir, "logs", `${name}.log`), "utf8");
}

function countOf(text: string, line: string): number {
  return text.split(line).length - 1;
}

describe("SIGTERM with every dependency gone", () => {
  it.each([
    ["sender", "sender-service stopped"],
    ["receiver", "receiver-service stopped"],
  ])("%s exits on its own within the docker stop budget", async (service, stoppedLine) => {
    const database = service === "sender" ? "sender-pg" : "receiver-pg";
    const traffic = startTraffic(app.getEndpoint("sender"), `budget-${service}`);
    let elapsedMs: number;
    let stopsAfter: number;
    try {
      // Precondition: work is flowing through the service when its dependencies die, so it has
      // requests, claims or deliveries in flight, not an idle pool.
      await traffic.waitForAccepted(20);
      await waitForApplied(app, traffic.accepted().slice(0, 5));

      await app.killResource(database);
      await app.killResource("broker");
      expect(app.resource(database).state).toBe("Exited");
      expect(app.resource("broker").state).toBe("Exited");
      expect(app.resource(service).state).toBe("Running");

      const stopsBefore = countOf(await serviceLog(service), stoppedLine);
      const began = performance.now();
      await app.stopResource(service);
      elapsedMs = performance.now() - began;
      stopsAfter = countOf(await serviceLog(service), stoppedLine) - stopsBefore;
    } finally {
      await traffic.stop();
    }

    // The log line is written at the very end of the service's own shutdown: without it the exit
    // was the AppHost's SIGKILL, not the service's.
    expect(stopsAfter, `"${stoppedLine}" logged by this stop`).toBe(1);
    expect(elapsedMs, `${service} took ${Math.round(elapsedMs)} ms to exit`).toBeLessThan(
      DOCKER_STOP_BUDGET_MS,
    );

    await app.startResource(database);
    await app.startResource(`${database.replace("-pg", "")}db`);
    await app.startResource("broker");
    await app.startResource(service);
    await app.waitForHealthy(service);
  });
});
