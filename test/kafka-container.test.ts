import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { imageAvailability } from "../apphost/src/providers/container/docker-objects.js";
import { chooseImage, OFFICIAL_IMAGES } from "../apphost/src/providers/container/images.js";
import type { DistributedApplication } from "../apphost/src/runtime/distributed-application.js";
import { waitUntil } from "../apphost/src/runtime/wait.js";
import { startTestApp, stopTestApp } from "../apphost/src/testing.js";
import { consume, injectedBootstrap, kafkaModel, partitionsOf, produce } from "./support/kafka-roundtrip.js";

// addKafka in container mode, with the image APPHOST_IMAGE_KAFKA names (the official apache/kafka
// where a registry answers, else the look-alike `npm run images` builds): the advertised listener
// must be the host-mapped port, the data lives in a named volume.

const image = chooseImage({ resource: "events", kind: "kafka", fallback: OFFICIAL_IMAGES.kafka }).image;
const available = (await imageAvailability(image).catch(() => ({ available: false }))).available;

describe.skipIf(!available)(`Kafka resource, container mode (${image})`, () => {
  let app: DistributedApplication | undefined;

  beforeAll(async () => {
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
