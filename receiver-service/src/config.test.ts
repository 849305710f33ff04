import { ConfigError } from "@outbox/service-defaults";
import { describe, expect, it } from "vitest";
import { readConfig } from "./config.js";

const minimal = {
  PORT: "8080",
  ConnectionStrings__receiverdb: "postgresql://u:p@127.0.0.1:5432/receiverdb",
  ConnectionStrings__broker: "amqp://u:p@127.0.0.1:5672",
};

describe("readConfig", () => {
  it("applies defaults", () => {
    const config = readConfig(minimal);
    expect(config).toMatchObject({
      PORT: 8080,
      HOST: "127.0.0.1",
      RECEIVER_QUEUE: "entity-items.receiver",
      RECEIVER_GROUP: "receiver",
      RECEIVER_MAX_IN_FLIGHT: 16,
      PG_POOL_MAX: 10,
      INBOX_RETENTION_MS: 7 * 24 * 3_600_000,
      INBOX_RETENTION_INTERVAL_MS: 60_000,
      INBOX_RETENTION_BATCH_SIZE: 1_000,
      databaseUrl: minimal.ConnectionStrings__receiverdb,
      brokerUrl: minimal.ConnectionStrings__broker,
    });
  });

  it("falls back to the <NAME>_URI variables", () => {
    const config = readConfig({
      PORT: "0",
      RECEIVERDB_URI: "postgres://a:b@127.0.0.1:1/receiverdb",
      BROKER_URI: "amqp://127.0.0.1:5672",
    });
    expect(config.databaseUrl).toBe("postgres://a:b@127.0.0.1:1/receiverdb");
    expect(config.brokerUrl).toBe("amqp://127.0.0.1:5672");
  });

  it("reads the receiver settings", () => {
    const config = readConfig({
      ...minimal,
      RECEIVER_QUEUE: "other",
      RECEIVER_MAX_IN_FLIGHT: "4",
      PG_POOL_MAX: "3",
      INBOX_RETENTION_MS: "0",
    });
    expect(config).toMatchObject({
      RECEIVER_QUEUE: "other",
      RECEIVER_MAX_IN_FLIGHT: 4,
      PG_POOL_MAX: 3,
      INBOX_RETENTION_MS: 0,
    });
  });

  it("names every bad or missing variable at once", () => {
    let error: unknown;
    try {
      readConfig({
        PORT: "x",
        RECEIVER_MAX_IN_FLIGHT: "0",
        INBOX_RETENTION_MS: "-1",
        ConnectionStrings__broker: "http://nope",
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const name of [
      "PORT",
      "RECEIVER_MAX_IN_FLIGHT",
      "INBOX_RETENTION_MS",
      "ConnectionStrings__receiverdb",
      "ConnectionStrings__broker",
    ]) {
      expect(message).toContain(name);
    }
    expect(message).not.toContain("http://nope");
  });
});

describe("readConfig on Kafka", () => {
  it("reads the bootstrap servers and the groups' retry tiers", () => {
    const config = readConfig({
      ...minimal,
      MESSAGING_TRANSPORT: "kafka",
      ConnectionStrings__broker: "127.0.0.1:9092",
      RECEIVER_RETRY_DELAYS_MS: "1000,2000",
      AUDIT_RETRY_DELAYS_MS: "none",
    });
    expect(config).toMatchObject({
      MESSAGING_TRANSPORT: "kafka",
      broker: { transport: "kafka", brokers: ["127.0.0.1:9092"] },
      brokerUrl: "127.0.0.1:9092",
      RECEIVER_RETRY_DELAYS_MS: [1_000, 2_000],
      AUDIT_RETRY_DELAYS_MS: [],
    });
  });

  it("defaults to Artemis, and to seed 004's tiers when Kafka is chosen without them", () => {
    expect(readConfig(minimal)).toMatchObject({
      MESSAGING_TRANSPORT: "artemis",
      broker: { transport: "artemis", url: minimal.ConnectionStrings__broker },
    });
    expect(
      readConfig({ ...minimal, MESSAGING_TRANSPORT: "kafka", ConnectionStrings__broker: "k:9092" })
        .RECEIVER_RETRY_DELAYS_MS,
    ).toEqual([5_000, 10_000]);
  });

  it("refuses an AMQP URL when Kafka is chosen, and an unknown transport", () => {
    expect(() => readConfig({ ...minimal, MESSAGING_TRANSPORT: "kafka" })).toThrow(
      /ConnectionStrings__broker: expected Kafka bootstrap servers/,
    );
    expect(() => readConfig({ ...minimal, MESSAGING_TRANSPORT: "nats" })).toThrow(/MESSAGING_TRANSPORT/);
  });
});
