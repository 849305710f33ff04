import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  baseEnvSchema,
  ConfigError,
  connectionStringFromEnv,
  loadConfig,
  postgresUrlFromEnv,
  amqpUrlFromEnv,
  readAllConfig,
} from "./config.js";

describe("loadConfig", () => {
  const schema = baseEnvSchema.extend({
    SENDERDB_URI: z.string().min(1),
    OUTBOX_ADDRESS: z.string().default("entity-items"),
  });

  it("applies defaults and coerces numbers", () => {
    const config = loadConfig(schema, { PORT: "8080", SENDERDB_URI: "postgresql://x" });
    expect(config).toMatchObject({
      PORT: 8080,
      HOST: "127.0.0.1",
      LOG_LEVEL: "info",
      SHUTDOWN_TIMEOUT_MS: 10_000,
      OUTBOX_ADDRESS: "entity-items",
    });
    expect(config.OTEL_EXPORTER_OTLP_ENDPOINT).toBeUndefined();
  });

  it("names every bad or missing variable", () => {
    let error: unknown;
    try {
      loadConfig(schema, { PORT: "eighty", LOG_LEVEL: "loud", OTEL_EXPORTER_OTLP_ENDPOINT: "not a url" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toMatch(/^Invalid configuration: /);
    expect(message).toContain("PORT: expected a number");
    expect(message).toContain("SENDERDB_URI: required");
    expect(message).toContain("LOG_LEVEL:");
    expect(message).toContain("OTEL_EXPORTER_OTLP_ENDPOINT:");
  });

  it("reports a missing PORT as required and treats empty variables as unset", () => {
    expect(() => loadConfig(baseEnvSchema, { PORT: "" })).toThrow("PORT: required");
    expect(loadConfig(baseEnvSchema, { PORT: "1", HOST: "" }).HOST).toBe("127.0.0.1");
  });

  it("rejects out-of-range ports without echoing values", () => {
    expect(() => loadConfig(baseEnvSchema, { PORT: "70000" })).toThrow(/PORT: .*65535/);
  });
});

describe("connection strings", () => {
  it("prefers ConnectionStrings__<name> and falls back to <NAME>_URI", () => {
    expect(
      postgresUrlFromEnv(
        { ConnectionStrings__senderdb: "postgresql://a", SENDERDB_URI: "postgresql://b" },
        "senderdb",
      ),
    ).toBe("postgresql://a");
    expect(postgresUrlFromEnv({ SENDERDB_URI: "postgres://b" }, "senderdb")).toBe("postgres://b");
    expect(connectionStringFromEnv({ MY_BROKER_URI: "amqp://h" }, "my-broker")).toBe("amqp://h");
  });

  it("names both variables when neither is set", () => {
    expect(() => postgresUrlFromEnv({}, "senderdb")).toThrow(ConfigError);
    expect(() => postgresUrlFromEnv({}, "senderdb")).toThrow(/ConnectionStrings__senderdb.*SENDERDB_URI/);
  });

  it("rejects a non-postgres URL", () => {
    expect(() => postgresUrlFromEnv({ ConnectionStrings__senderdb: "amqp://x" }, "senderdb")).toThrow(
      /postgresql/,
    );
  });
});

describe("readAllConfig", () => {
  it("returns every value when all readers succeed", () => {
    const env = { ConnectionStrings__broker: "amqp://u:p@127.0.0.1:5672" };
    expect(readAllConfig({ broker: () => amqpUrlFromEnv(env, "broker"), n: () => 1 })).toEqual({
      broker: "amqp://u:p@127.0.0.1:5672",
      n: 1,
    });
  });

  it("names every missing or bad variable in one error", () => {
    const env = { ConnectionStrings__broker: "http://nope" };
    expect(() =>
      readAllConfig({
        db: () => postgresUrlFromEnv(env, "senderdb"),
        broker: () => amqpUrlFromEnv(env, "broker"),
      }),
    ).toThrow(
      /ConnectionStrings__senderdb \(or SENDERDB_URI\): required; ConnectionStrings__broker: expected an amqp/,
    );
  });
});
