import { ConfigError } from "@outbox/service-defaults";
import { describe, expect, it } from "vitest";
import { defaultInstanceId, loadSenderConfig } from "./config.js";

const minimal = {
  PORT: "8080",
  ConnectionStrings__senderdb: "postgresql://u:secret@127.0.0.1:5432/senderdb",
  ConnectionStrings__broker: "amqp://u:p@127.0.0.1:5672",
};

describe("loadSenderConfig", () => {
  it("applies the defaults", () => {
    const config = loadSenderConfig(minimal, "sender-test");
    expect(config).toMatchObject({
      port: 8080,
      host: "127.0.0.1",
      databaseUrl: minimal.ConnectionStrings__senderdb,
      brokerUrl: minimal.ConnectionStrings__broker,
      pgPoolMax: 10,
      instanceId: "sender-test",
      outbox: {
        address: "entity-items",
        batchSize: 100,
        leaseMs: 30_000,
        pollIntervalMs: 5_000,
        sendTimeoutMs: 10_000,
        backoff: { minMs: 500, maxMs: 30_000 },
        concurrency: 2,
        maxAttempts: 10,
        deadBlocksAggregate: true,
        listen: true,
        synchronousCommit: false,
        retention: { retentionMs: 604_800_000, intervalMs: 60_000, batchSize: 1_000 },
      },
    });
  });

  it("falls back to <NAME>_URI and reads the outbox settings", () => {
    const config = loadSenderConfig(
      {
        PORT: "0",
        SENDERDB_URI: "postgres://u:p@127.0.0.1:1/senderdb",
        BROKER_URI: "amqp://127.0.0.1:5679",
        OUTBOX_ADDRESS: "orders",
        OUTBOX_BATCH_SIZE: "7",
        OUTBOX_LEASE_MS: "60000",
        OUTBOX_SEND_TIMEOUT_MS: "30000",
        OUTBOX_POLL_INTERVAL_MS: "250",
        OUTBOX_MAX_ATTEMPTS: "3",
        OUTBOX_DEAD_BLOCKS_AGGREGATE: "false",
        OUTBOX_CONCURRENCY: "4",
        OUTBOX_RETENTION_MS: "0",
        PG_POOL_MAX: "3",
      },
      "x",
    );
    expect(config.databaseUrl).toBe("postgres://u:p@127.0.0.1:1/senderdb");
    expect(config.brokerUrl).toBe("amqp://127.0.0.1:5679");
    expect(config.outbox).toMatchObject({
      address: "orders",
      batchSize: 7,
      leaseMs: 60_000,
      sendTimeoutMs: 30_000,
      pollIntervalMs: 250,
      maxAttempts: 3,
      deadBlocksAggregate: false,
      concurrency: 4,
      retention: { retentionMs: 0 },
    });
    expect(config.pgPoolMax).toBe(3);
  });

  it("names every missing or bad variable at once, without echoing values", () => {
    let error: unknown;
    try {
      loadSenderConfig({ PORT: "http", OUTBOX_BATCH_SIZE: "-1", BROKER_URI: "http://nope:s3cr3t@x" }, "x");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain("PORT");
    expect(message).toContain("OUTBOX_BATCH_SIZE");
    expect(message).toContain("ConnectionStrings__senderdb");
    expect(message).toContain("SENDERDB_URI");
    expect(message).toContain("ConnectionStrings__broker");
    expect(message).not.toContain("s3cr3t");
  });

  it("rejects a send timeout that does not fit twice into the lease", () => {
    expect(() =>
      loadSenderConfig({ ...minimal, OUTBOX_LEASE_MS: "10000", OUTBOX_SEND_TIMEOUT_MS: "6000" }, "x"),
    ).toThrow(/OUTBOX_SEND_TIMEOUT_MS: must be at most half of OUTBOX_LEASE_MS/);
  });

  it("rejects a backoff cap below the minimum", () => {
    expect(() =>
      loadSenderConfig({ ...minimal, OUTBOX_BACKOFF_MIN_MS: "5000", OUTBOX_BACKOFF_MAX_MS: "100" }, "x"),
    ).toThrow(/OUTBOX_BACKOFF_MAX_MS/);
  });
});

describe("defaultInstanceId", () => {
  it("is unique per call and names the process", () => {
    const a = defaultInstanceId();
    expect(a).toMatch(new RegExp(`^sender-.+-${process.pid}-[a-z0-9]+$`));
    expect(defaultInstanceId()).not.toBe(a);
  });
});
