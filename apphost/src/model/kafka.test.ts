import { describe, expect, it } from "vitest";
import { kafkaImageEnvironment, kafkaNodeSettings, newClusterId } from "../kafka/node-config.js";
import { kafkaKind } from "../kinds/kafka.js";
import { createApp } from "./app-builder.js";

describe("addKafka", () => {
  it("declares topics from the options and withTopic, with the default of one partition", () => {
    const kafka = createApp()
      .addKafka("events", { topics: [{ name: "orders", partitions: 3, retentionMs: 60_000 }] })
      .withTopic("orders.retry-1");
    expect(kafka.kind).toBe("kafka");
    expect(kafka.connectionName).toBe("events");
    expect(kafka.topics()).toEqual([
      { name: "orders", partitions: 3, retentionMs: 60_000 },
      { name: "orders.retry-1", partitions: 1 },
    ]);
  });

  it("refuses a bad topic with a message naming it", () => {
    const kafka = createApp().addKafka("events").withTopic("orders");
    expect(() => kafka.withTopic("orders")).toThrow(/Topic "orders" is declared twice on Kafka "events"/);
    expect(() => kafka.withTopic("a/b")).toThrow(/Invalid Kafka topic name "a\/b" on "events"/);
    expect(() => kafka.withTopic("..")).toThrow(/Invalid Kafka topic name/);
    expect(() => kafka.withTopic("x", { partitions: 0 })).toThrow(/partitions must be an integer from 1/);
    expect(() => kafka.withTopic("y", { partitions: 1.5 })).toThrow(/partitions must be an integer/);
    expect(() => kafka.withTopic("z", { retentionMs: -2 })).toThrow(/retentionMs must be an integer ≥ -1/);
  });

  it("needs the official image unless the model or an APPHOST_IMAGE_* variable names another", () => {
    const app = createApp();
    expect(kafkaKind.images?.(app.addKafka("a"))).toEqual([
      { kind: "kafka", model: undefined, fallback: "apache/kafka:4.4.0" },
    ]);
    expect(kafkaKind.images?.(app.addKafka("b").withImage("my/kafka", "4.4.0"))?.[0]?.model).toBe(
      "my/kafka:4.4.0",
    );
  });
});

describe("Kafka node settings", () => {
  const settings = kafkaNodeSettings(
    {
      listenHost: "0.0.0.0",
      brokerPort: 9092,
      controllerPort: 9093,
      advertisedHost: "127.0.0.1",
      advertisedPort: 41234,
    },
    "/var/lib/kafka/data",
  );

  it("advertises the host-side port, not the one the broker listens on", () => {
    expect(settings.get("listeners")).toBe("PLAINTEXT://0.0.0.0:9092,CONTROLLER://0.0.0.0:9093");
    expect(settings.get("advertised.listeners")).toBe("PLAINTEXT://127.0.0.1:41234");
  });

  it("become the image's KAFKA_* variables (dots as underscores, upper case)", () => {
    const env = kafkaImageEnvironment(settings);
    expect(env.KAFKA_ADVERTISED_LISTENERS).toBe("PLAINTEXT://127.0.0.1:41234");
    expect(env.KAFKA_PROCESS_ROLES).toBe("broker,controller");
    expect(env.KAFKA_LOG_DIRS).toBe("/var/lib/kafka/data");
    expect(env.KAFKA_TRANSACTION_STATE_LOG_MIN_ISR).toBe("1");
    // Every key round-trips through the image's rule (no key holds '_' or '-', which it would mangle).
    for (const key of settings.keys()) expect(key).toMatch(/^[a-z.]+$/);
  });

  it("makes cluster ids as Kafka does: 16 bytes, URL-safe base64 without padding", () => {
    const id = newClusterId();
    expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(Buffer.from(id, "base64url")).toHaveLength(16);
  });
});

describe("withTopic's consumer groups", () => {
  it("declares per group its retry tiers, its dead-letter topic (kept forever) and its compacted marks", () => {
    const kafka = createApp()
      .addKafka("broker")
      .withTopic("entity-items", {
        partitions: 3,
        retentionMs: 3_600_000,
        groups: [{ name: "receiver", retryDelaysMs: [1_000, 2_000, 4_000] }, { name: "audit" }],
      });
    expect(kafka.topics()).toEqual([
      { name: "entity-items", partitions: 3, retentionMs: 3_600_000 },
      { name: "entity-items.receiver.retry-1", partitions: 3, retentionMs: 3_600_000 },
      { name: "entity-items.receiver.retry-2", partitions: 3, retentionMs: 3_600_000 },
      { name: "entity-items.receiver.retry-3", partitions: 3, retentionMs: 3_600_000 },
      { name: "entity-items.receiver.dlt", partitions: 3, retentionMs: -1 },
      { name: "entity-items.receiver.dlt-marks", partitions: 1, cleanupPolicy: "compact" },
      // The default tiers (seed 004): 5 s, then 10 s.
      { name: "entity-items.audit.retry-1", partitions: 3, retentionMs: 3_600_000 },
      { name: "entity-items.audit.retry-2", partitions: 3, retentionMs: 3_600_000 },
      { name: "entity-items.audit.dlt", partitions: 3, retentionMs: -1 },
      { name: "entity-items.audit.dlt-marks", partitions: 1, cleanupPolicy: "compact" },
    ]);
    expect(kafka.retryDelaysMs("entity-items", "receiver")).toEqual([1_000, 2_000, 4_000]);
    expect(kafka.retryDelaysMs("entity-items", "audit")).toEqual([5_000, 10_000]);
  });

  it("names the topics as @outbox/messaging's Kafka transport does", async () => {
    const { kafkaGroupTopics, kafkaGroupId } = await import("@outbox/messaging");
    const names = createApp()
      .addKafka("broker")
      .withTopic("orders", { groups: [{ name: "billing", retryDelaysMs: [100, 200] }] })
      .topics()
      .map((t) => t.name);
    const expected = kafkaGroupTopics("orders", "billing", 2);
    expect(names).toEqual(["orders", ...expected.retry, expected.deadLetter, expected.marks]);
    expect(kafkaGroupId("orders", "billing")).toBe("orders.billing");
  });

  it("allows a group without retry tiers: straight to its dead-letter topic", () => {
    const kafka = createApp()
      .addKafka("broker")
      .withTopic("receipts", { groups: [{ name: "sender", retryDelaysMs: [] }] });
    expect(kafka.topics().map((t) => t.name)).toEqual([
      "receipts",
      "receipts.sender.dlt",
      "receipts.sender.dlt-marks",
    ]);
  });

  it("refuses bad groups and delays with a message naming them", () => {
    const kafka = () => createApp().addKafka("broker");
    expect(() => kafka().withTopic("t", { groups: [{ name: "a" }, { name: "a" }] })).toThrow(
      /Group "a" is declared twice on topic "t" of Kafka "broker"/,
    );
    expect(() => kafka().withTopic("t", { groups: [{ name: "a.b" }] })).toThrow(
      /Invalid consumer group "a.b"/,
    );
    expect(() => kafka().withTopic("t", { groups: [{ name: "a", retryDelaysMs: [10, -1] }] })).toThrow(
      /retryDelaysMs\[1\] must be an integer ≥ 0/,
    );
    // A group's topic colliding with a topic declared on its own.
    expect(() =>
      kafka()
        .withTopic("t.a.dlt")
        .withTopic("t", { groups: [{ name: "a" }] }),
    ).toThrow(/Topic "t.a.dlt" is declared twice/);
    expect(() => kafka().withTopic("t").retryDelaysMs("t", "nobody")).toThrow(
      /declares no group "nobody" on topic "t"/,
    );
  });
});
