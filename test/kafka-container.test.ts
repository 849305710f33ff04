import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { imageAvailability } from "../apphost/src/providers/container/docker-objects.js";
import { imageVariable, LOCAL_IMAGES, OFFICIAL_IMAGES } from "../apphost/src/providers/container/images.js";
import { LOCAL_IMAGES_HINT } from "../apphost/src/providers/container/required-images.js";
import type { DistributedApplication } from "../apphost/src/runtime/distributed-application.js";
import { waitUntil } from "../apphost/src/runtime/wait.js";
import { startTestApp, stopTestApp } from "../apphost/src/testing.js";
import { consume, injectedBootstrap, kafkaModel, partitionsOf, produce } from "./support/kafka-roundtrip.js";

// addKafka in container mode, with the image APPHOST_IMAGE_KAFKA names (the official apache/kafka
// where a registry answers, else the look-alike `npm run images` builds): the advertised listener
// must be the host-mapped port, the data lives in a named volume.

/**
 * The Kafka image this run uses, as test/support/test-images.ts picks the others: APPHOST_IMAGE_KAFKA
 * when set, else the official image when present or pullable, else the local look-alike (set in
 * this process's environment). Fails, naming what to run, when none is there.
 */
async function useKafkaImage(): Promise<string> {
  const variable = imageVariable("kafka");
  const set = process.env[variable];
  if (set) return set;
  for (const candidate of [OFFICIAL_IMAGES.kafka, LOCAL_IMAGES.kafka]) {
    if ((await imageAvailability(candidate)).available) {
      process.env[variable] = candidate;
      return candidate;
    }
  }
  throw new Error(
    `The Kafka container test needs ${OFFICIAL_IMAGES.kafka} or ${LOCAL_IMAGES.kafka}: ${LOCAL_IMAGES_HINT}`,
  );
}

describe("Kafka resource, container mode", () => {
  let app: DistributedApplication | undefined;
  let image: string;

  beforeAll(async () => {
    image = await useKafkaImage();
    app = await startTestApp({ model: kafkaModel("kafka-container"), mode: "container" });
  });

  afterAll(async () => {
    if (app) await stopTestApp(app);
  });

  it("advertises the host-mapped port: a client given the connection string produces and consumes", async () => {
    const bootstrap = injectedBootstrap(app!);
    expect(bootstrap).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(bootstrap).not.toBe("127.0.0.1:9092");
    expect(app!.resource("events").container?.image).toBe(image);
    expect(await partitionsOf(bootstrap, "orders")).toBe(3);

    const keys = Array.from({ length: 30 }, (_, i) => `k${i}`);
    await produce(bootstrap, "orders", keys);
    const received = await consume(bootstrap, "orders", keys.length, "first-read");
    expect(received.map((r) => r.key).sort()).toEqual([...keys].sort());
    expect(new Set(received.map((r) => r.partition)).size).toBe(3);
  });

  it("keeps the records in its volume across a new container", async () => {
    const before = injectedBootstrap(app!);
    const firstContainer = app!.resource("events").container?.id;
    await app!.restartResource("events");
    await app!.waitForHealthy("events");
    expect(app!.resource("events").container?.id).not.toBe(firstContainer);
    expect(app!.getConnectionString("events")).toBe(before);
    const received = await consume(before, "orders", 30, "after-restart");
    expect(received).toHaveLength(30);
  });

  it("is unhealthy while the broker is frozen, and exits when its container is killed", async () => {
    await app!.waitForHealthy("events");
    const id = app!.resource("events").container?.id;
    expect(id).toBeDefined();
    // A paused container keeps its published port (docker-proxy accepts): only a metadata request tells.
    execFileSync("docker", ["pause", id!]);
    try {
      await waitUntil(() => Promise.resolve(app!.resource("events").health === "Unhealthy"), {
        timeoutMs: 30_000,
        intervalMs: 200,
        what: "events to turn unhealthy",
      });
      expect(app!.resource("events").healthDetail).toMatch(/metadata request failed/);
    } finally {
      execFileSync("docker", ["unpause", id!]);
    }
    await app!.waitForHealthy("events");

    await app!.killResource("events");
    await waitUntil(() => Promise.resolve(app!.resource("events").state === "Exited"), {
      timeoutMs: 30_000,
      intervalMs: 200,
      what: "events to exit",
    });
    expect(app!.resource("events").health).not.toBe("Healthy");
  });
});
