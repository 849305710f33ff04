import { execFileSync } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppBuilder } from "../apphost/src/index.js";
import type { ArtemisTopology } from "../apphost/src/artemis/topology.js";
import {
  TopologyVerificationError,
  verifyBrokerTopology,
  type BrokerEndpoint,
} from "../apphost/src/artemis/verify-topology.js";
import { DistributedApplication } from "../apphost/src/runtime/distributed-application.js";
import { repositoryRoot, startTestApp, stopTestApp } from "../apphost/src/testing.js";

// Review defect 10: Artemis ignores broker.properties keys it cannot apply (they appear only in
// broker.getStatus), so the AppHost must read the status after start and refuse to run on one.

function brokerModel(configure: (broker: ReturnType<AppBuilder["addArtemis"]>) => void): AppBuilder {
  const builder = new AppBuilder({ name: "topology-verify" });
  configure(builder.addArtemis("broker"));
  return builder;
}

function endpointOf(app: DistributedApplication): BrokerEndpoint {
  const url = new URL(app.getConnectionString("broker"));
  return {
    host: url.hostname,
    port: Number(url.port),
    username: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
  };
}

/** Processes whose command line mentions `dir` (a broker instance left behind would). */
function processesUnder(dir: string): string[] {
  const out = execFileSync("ps", ["-eo", "pid,args"], { encoding: "utf8" });
  return out.split("\n").filter((line) => line.includes(dir) && !line.includes(" ps "));
}

describe("broker topology verification at start (defect 10)", () => {
  let app: DistributedApplication | undefined;
  let topology: ArtemisTopology;

  beforeAll(async () => {
    // The kinds of keys apphost.ts renders: "#" defaults, per-group overrides, diverts.
    const model = brokerModel((broker) =>
      broker
        .withDefaultAddressSettings({
          deadLetterAddress: "DLQ",
          autoCreateDeadLetterResources: true,
          redeliveryDelayMs: 1000,
          redeliveryMultiplier: 2,
          maxRedeliveryDelayMs: 30_000,
          maxDeliveryAttempts: 10,
        })
        .addQueue("verify-orders")
        .addTopic("verify-events", [
          { name: "billing", settings: { maxDeliveryAttempts: 3 } },
          { name: "audit", settings: { redeliveryDelayMs: 2_000, maxDeliveryAttempts: 5 } },
        ])
        .withDuplicateIdCache(1234),
    );
    app = await startTestApp({ model });
    topology = (
      model.resources().find((r) => r.name === "broker") as ReturnType<AppBuilder["addArtemis"]>
    ).topology();
  });

  afterAll(async () => {
    await stopTestApp(app);
  });

  it("a broker that applied every key starts, and the same check passes against it", async () => {
    expect(app!.resource("broker").state).toBe("Running");
    await expect(verifyBrokerTopology(endpointOf(app!), topology)).resolves.toBeUndefined();
  });

  it("names a group queue the broker lacks and a duplicate-id cache size it does not have", async () => {
    const missingGroup: ArtemisTopology = {
      ...topology,
      addresses: [
        ...topology.addresses,
        {
          name: "verify-events.shipping",
          routingType: "anycast",
          queues: [{ name: "verify-events.shipping" }],
        },
      ],
      idCacheSize: 999,
    };
    const error = await verifyBrokerTopology(endpointOf(app!), missingGroup).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TopologyVerificationError);
    expect((error as Error).message).toContain('queue "verify-events.shipping" does not exist');
    expect((error as Error).message).toContain("duplicate-id cache size is 1234, expected 999");
  });

  it("fails start-up naming a broker.properties key the broker could not apply, and leaves no broker", async () => {
    const stateDir = await fs.mkdtemp(path.join(os.tmpdir(), "outbox-topology-verify-"));
    const bad = new DistributedApplication(
      brokerModel((broker) =>
        // Passes the model's checks, but Artemis has no such policy: it skips the key and starts.
        broker.addQueue("verify-bad", { addressFullMessagePolicy: "SPILL" as unknown as "PAGE" }),
      ),
      { rootDir: repositoryRoot, stateDir, mode: "process", console: process.env.APPHOST_TEST_LOGS === "1" },
    );
    try {
      const error = await bad.start().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      const message = (error as Error).message;
      expect(message).toContain("was not applied");
      expect(message).toMatch(/addressSettings\.?"?verify-bad"?\.addressFullMessagePolicy/);
      expect(processesUnder(stateDir)).toEqual([]);
    } finally {
      await bad.stop().catch(() => {});
      await fs.rm(stateDir, { recursive: true, force: true });
    }
  });
});
