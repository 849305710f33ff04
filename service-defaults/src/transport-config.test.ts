import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./config.js";
import {
  brokerAddressFromEnv,
  brokerConnectionString,
  kafkaBrokersFromConnectionString,
  retryDelaysSchema,
  transportEnvSchema,
} from "./transport-config.js";
import { z } from "zod";

describe("MESSAGING_TRANSPORT", () => {
  it("defaults to artemis and accepts kafka; anything else names the allowed values", () => {
    expect(loadConfig(transportEnvSchema, {}).MESSAGING_TRANSPORT).toBe("artemis");
    expect(loadConfig(transportEnvSchema, { MESSAGING_TRANSPORT: "kafka" }).MESSAGING_TRANSPORT).toBe(
      "kafka",
    );
    expect(() => loadConfig(transportEnvSchema, { MESSAGING_TRANSPORT: "rabbit" })).toThrow(
      /MESSAGING_TRANSPORT: .*"artemis"\|"kafka"/,
    );
  });
});

describe("brokerAddressFromEnv", () => {
  it("reads an amqp:// URL for Artemis, as before", () => {
    const address = brokerAddressFromEnv(
      { ConnectionStrings__broker: "amqp://u:p@127.0.0.1:5672" },
      "broker",
    );
    expect(address).toEqual({ transport: "artemis", url: "amqp://u:p@127.0.0.1:5672" });
    expect(() => brokerAddressFromEnv({ ConnectionStrings__broker: "127.0.0.1:9092" }, "broker")).toThrow(
      /expected an amqp:\/\/ URL/,
    );
  });

  it("reads bootstrap servers for Kafka, from the connection string or <NAME>_URI", () => {
    const env = { MESSAGING_TRANSPORT: "kafka", ConnectionStrings__broker: "127.0.0.1:9092, kafka-2:9093" };
    const address = brokerAddressFromEnv(env, "broker");
    expect(address).toEqual({ transport: "kafka", brokers: ["127.0.0.1:9092", "kafka-2:9093"] });
    expect(brokerConnectionString(address)).toBe("127.0.0.1:9092,kafka-2:9093");
    expect(
      brokerAddressFromEnv({ MESSAGING_TRANSPORT: "kafka", BROKER_URI: "[::1]:9092" }, "broker"),
    ).toEqual({
      transport: "kafka",
      brokers: ["[::1]:9092"],
    });
  });

  it("refuses what is not host:port, without echoing credentials", () => {
    for (const bad of ["amqp://u:secret@h:5672", "host", "host:0", "host:70000", ",", "h:1,h2"]) {
      const attempt = () => kafkaBrokersFromConnectionString(bad, "broker");
      expect(attempt, bad).toThrow(ConfigError);
      expect(attempt, bad).toThrow(/ConnectionStrings__broker: expected Kafka bootstrap servers/);
    }
    expect(() => kafkaBrokersFromConnectionString("amqp://u:secret@h:5672", "broker")).not.toThrow(/secret/);
  });
});

describe("retryDelaysSchema", () => {
  const schema = z.object({ D: retryDelaysSchema("5000,10000") });
  it("reads milliseconds separated by commas, or none", () => {
    expect(loadConfig(schema, {}).D).toEqual([5_000, 10_000]);
    expect(loadConfig(schema, { D: "1000, 2000,4000" }).D).toEqual([1_000, 2_000, 4_000]);
    expect(loadConfig(schema, { D: "none" }).D).toEqual([]);
  });
  it("refuses anything else", () => {
    for (const bad of ["1s", "-1", "1,,2", "1.5"])
      expect(() => loadConfig(schema, { D: bad }), bad).toThrow(
        /D: expected milliseconds separated by commas/,
      );
  });
});
