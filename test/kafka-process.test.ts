import { existsSync } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DistributedApplication } from "../apphost/src/runtime/distributed-application.js";
import { waitUntil } from "../apphost/src/runtime/wait.js";
import { startTestApp, stopTestApp } from "../apphost/src/testing.js";
import { consume, injectedBootstrap, kafkaModel, partitionsOf, produce } from "./support/kafka-roundtrip.js";

// addKafka in process mode: a real KRaft node from the cached jars, its topic created at start, a
// client given the bootstrap servers, data kept across a restart, health from the broker itself.

describe("Kafka resource, process mode", () => {
  let app: DistributedApplication | undefined;

  beforeAll(async () => {
    app = await startTestApp({ model: kafkaModel("kafka-process"), mode: "process" });
  });

  afterAll(async () => {
    if (app) await stopTestApp(app);
  });

  it("injects the bootstrap servers, creates the topic with 3 partitions, and records round-trip", async () => {
    const bootstrap = injectedBootstrap(app!);
    expect(bootstrap).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(app!.getConnectionString("events")).toBe(bootstrap);
    expect(app!.resource("client").state).toBe("Running");
    expect(await partitionsOf(bootstrap, "orders")).toBe(3);
    // The broker's records are readable by the AppHost's user only.
    const stateDir = path.dirname(path.dirname(app!.resource("events").logFile));
    const dataDir = path.join(stateDir, "data", "events");
    expect((await fs.stat(dataDir)).mode & 0o777).toBe(0o700);
    expect(existsSync(path.join(dataDir, "kraft-logs", "meta.properties"))).toBe(true);

    const keys = Array.from({ length: 30 }, (_, i) => `k${i}`);
    await produce(bootstrap, "orders", keys);
    const received = await consume(bootstrap, "orders", keys.length, "first-read");
    expect(received.map((r) => r.key).sort()).toEqual([...keys].sort());
    // 30 keys spread over the three partitions.
    expect(new Set(received.map((r) => r.partition)).size).toBe(3);
  });

  it("keeps the records and the topic across a restart of the broker", async () => {
    const before = injectedBootstrap(app!);
    await app!.restartResource("events");
    await app!.waitForHealthy("events");
    expect(app!.getConnectionString("events")).toBe(before);
    expect(await partitionsOf(before, "orders")).toBe(3);
    const received = await consume(before, "orders", 30, "after-restart");
    expect(received).toHaveLength(30);
  });

  it("is unhealthy while the broker does not answer, and exits when killed", async () => {
    await app!.waitForHealthy("events");
    expect(app!.resource("events").health).toBe("Healthy");
    const pid = app!.resource("events").pid;
    expect(pid).toBeGreaterThan(0);

    // A frozen JVM still has its port open (the kernel accepts): only a metadata request tells.
    process.kill(pid!, "SIGSTOP");
    try {
      await waitUntil(() => Promise.resolve(app!.resource("events").health === "Unhealthy"), {
        timeoutMs: 30_000,
        intervalMs: 200,
        what: "events to turn unhealthy",
      });
      expect(app!.resource("events").healthDetail).toMatch(/metadata request failed/);
    } finally {
      process.kill(pid!, "SIGCONT");
    }
    await app!.waitForHealthy("events");

    process.kill(pid!, "SIGKILL");
    await waitUntil(() => Promise.resolve(app!.resource("events").state === "Exited"), {
      timeoutMs: 30_000,
      intervalMs: 200,
      what: "events to exit",
    });
    expect(app!.resource("events").health).not.toBe("Healthy");
  });
});
