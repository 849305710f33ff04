import {
  ConfigError,
  baseEnvSchema,
  connectionStringFromEnv,
  loadConfig,
  postgresUrlFromEnv,
} from "@outbox/service-defaults";
import { z } from "zod";

/** Plain settings of the receiver, on top of what every service reads. */
export const receiverEnvSchema = baseEnvSchema.extend({
  /** The anycast queue to consume (pre-created by the AppHost). */
  RECEIVER_QUEUE: z.string().trim().min(1).default("entity-items"),
  /** Deliveries processed at once; also the most the broker has outstanding to us. */
  RECEIVER_MAX_IN_FLIGHT: z.coerce.number().int().min(1).max(1000).default(16),
  PG_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
});

export type ReceiverConfig = z.infer<typeof receiverEnvSchema> & {
  /** ConnectionStrings__receiverdb, falling back to RECEIVERDB_URI. */
  databaseUrl: string;
  /** ConnectionStrings__broker, falling back to BROKER_URI. */
  brokerUrl: string;
};

/** Reads everything once at start-up; a ConfigError names every bad or missing variable. */
export function readConfig(env: NodeJS.ProcessEnv = process.env): ReceiverConfig {
  const problems: string[] = [];
  const attempt = <T>(read: () => T): T | undefined => {
    try {
      return read();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(error.message.replace(/^Invalid configuration: /, ""));
      return undefined;
    }
  };
  const settings = attempt(() => loadConfig(receiverEnvSchema, env));
  const databaseUrl = attempt(() => postgresUrlFromEnv(env, "receiverdb"));
  const brokerUrl = attempt(() => brokerUrlFromEnv(env));
  if (settings === undefined || databaseUrl === undefined || brokerUrl === undefined) {
    throw new ConfigError(`Invalid configuration: ${problems.join("; ")}`);
  }
  return { ...settings, databaseUrl, brokerUrl };
}

function brokerUrlFromEnv(env: NodeJS.ProcessEnv): string {
  const url = connectionStringFromEnv(env, "broker");
  if (!/^amqps?:\/\//.test(url)) {
    throw new ConfigError("Invalid configuration: ConnectionStrings__broker: expected an amqp:// URL");
  }
  return url;
}
