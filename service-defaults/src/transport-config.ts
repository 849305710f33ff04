// Which broker a service talks to is configuration, never code: MESSAGING_TRANSPORT picks the
// transport and the same `ConnectionStrings__<name>` holds that broker's address (an amqp:// URL
// for Artemis, bootstrap servers for Kafka).
import { z } from "zod";
import { ConfigError, amqpUrlFromEnv, connectionStringFromEnv } from "./config.js";

export const messagingTransports = ["artemis", "kafka"] as const;
export type MessagingTransportName = (typeof messagingTransports)[number];

/** The variables both services read to choose and tune their transport (merged into their schemas). */
export const transportEnvSchema = z.object({
  MESSAGING_TRANSPORT: z
    .enum(messagingTransports)
    .default("artemis")
    .describe(
      "The broker the service talks to: `artemis` (AMQP 1.0) or `kafka`. With `kafka`, `ConnectionStrings__broker` holds the bootstrap servers `host:port[,host:port…]` and the queue and address variables name Kafka topics and groups (see the table's notes).",
    ),
});

/** The broker's address for the chosen transport: what the transport is opened with. */
export type BrokerAddress = { transport: "artemis"; url: string } | { transport: "kafka"; brokers: string[] };

/** `host:port`, a host name or an IPv4/IPv6 literal in brackets, and a port 1–65535. */
const HOST_PORT = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

/**
 * Kafka bootstrap servers from a connection string `host:port[,host:port…]` (spaces around commas
 * allowed). A `kafka://` or other URL is refused: clients take bare `host:port` pairs.
 */
export function kafkaBrokersFromConnectionString(value: string, connectionName: string): string[] {
  const brokers = value
    .split(",")
    .map((b) => b.trim())
    .filter((b) => b !== "");
  const bad = brokers.find((b) => {
    const port = HOST_PORT.exec(b)?.[1];
    return port === undefined || Number(port) < 1 || Number(port) > 65_535;
  });
  if (brokers.length === 0 || bad !== undefined)
    throw new ConfigError(
      `Invalid configuration: ConnectionStrings__${connectionName}: expected Kafka bootstrap servers host:port[,host:port…]` +
        (bad === undefined ? "" : ` (not a host:port: "${bad.includes("@") ? "<redacted>" : bad}")`),
    );
  return brokers;
}

/**
 * The referenced broker's address, read as MESSAGING_TRANSPORT says (an unknown value reads as
 * Artemis here: the schema's own check names it).
 */
export function brokerAddressFromEnv(env: NodeJS.ProcessEnv, connectionName: string): BrokerAddress {
  if (env.MESSAGING_TRANSPORT?.trim() !== "kafka")
    return { transport: "artemis", url: amqpUrlFromEnv(env, connectionName) };
  return {
    transport: "kafka",
    brokers: kafkaBrokersFromConnectionString(connectionStringFromEnv(env, connectionName), connectionName),
  };
}

/** The address as one string: the AMQP URL, or the bootstrap servers joined by commas. */
export function brokerConnectionString(address: BrokerAddress): string {
  return address.transport === "artemis" ? address.url : address.brokers.join(",");
}

/**
 * A list of retry delays in milliseconds, `5000,10000` (Kafka retry tiers: one per delay), or
 * `none` (no retry tiers: a failure goes straight to the dead-letter topic). The default is given
 * as the variable would be written, so the configuration tables show it.
 */
export function retryDelaysSchema(defaultValue: string) {
  return z
    .string()
    .trim()
    .default(defaultValue)
    .transform((value, ctx) => {
      if (value === "none") return [] as number[];
      const parts = value.split(",").map((p) => p.trim());
      const delays = parts.map(Number);
      if (parts.some((p) => !/^\d+$/.test(p)) || delays.some((d) => !Number.isSafeInteger(d))) {
        ctx.addIssue({
          code: "custom",
          message: `expected milliseconds separated by commas (e.g. 5000,10000) or "none"`,
        });
        return z.NEVER;
      }
      return delays;
    });
}
