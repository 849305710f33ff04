import { z } from "zod";

/** A configuration problem found at start-up; the message names every bad or missing variable. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** The pino levels accepted by LOG_LEVEL. */
export const logLevels = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/**
 * Settings every service reads; services extend it with their own variables. The descriptions are
 * the documentation: `npm run docs:config` renders them into docs/.
 */
export const baseEnvSchema = z.object({
  PORT: z.coerce
    .number()
    .int()
    .min(0)
    .max(65535)
    .describe("HTTP port (the AppHost injects it); `0` lets the system pick a free one."),
  HOST: z.string().min(1).default("127.0.0.1").describe("Address the HTTP server listens on."),
  LOG_LEVEL: z.enum(logLevels).default("info").describe("pino log level."),
  OTEL_SERVICE_NAME: z
    .string()
    .min(1)
    .optional()
    .describe("Service name in logs and telemetry; unset: the service's own name."),
  OTEL_EXPORTER_OTLP_ENDPOINT: z
    .url()
    .optional()
    .describe("OTLP/HTTP endpoint; when set, traces, metrics and logs are exported there."),
  MIGRATE_AT_START: z
    .enum(["true", "false", "1", "0"])
    .default("false")
    .transform((v) => v === "true" || v === "1")
    .describe(
      "`false`: at start-up the service only checks that its schema is migrated, and refuses to start if not; `true` (a deployment with a single role): it applies the migrations itself, with `<DB>_MIGRATIONS_URI` or else its own URL. The AppHost never sets it.",
    ),
  PG_STATEMENT_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(3_600_000)
    .default(15_000)
    .describe(
      "`statement_timeout` of the service's PostgreSQL connections: a statement running longer is cancelled (the request fails, a message is retried); `0` turns it off.",
    ),
  SHUTDOWN_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(10_000)
    .describe("At shutdown, how long HTTP requests in flight may run before their connections are closed."),
});

/**
 * Parses the environment once with a zod schema. Empty variables count as unset (so defaults apply:
 * orchestrators often inject `FOO=`). Never echoes values back: they may be secrets.
 */
export function loadConfig<S extends z.ZodObject>(
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
): z.infer<S> {
  const cleaned: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && value !== "") cleaned[key] = value;
  }
  const result = schema.safeParse(cleaned);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const path = issue.path.map(String).join(".") || "(root)";
    return `${path}: ${describeIssue(issue, cleaned)}`;
  });
  throw new ConfigError(`Invalid configuration: ${problems.join("; ")}`);
}

function describeIssue(issue: z.core.$ZodIssue, env: Record<string, string>): string {
  const [first] = issue.path;
  const missing = issue.path.length === 1 && typeof first === "string" && env[first] === undefined;
  if (missing && (issue.code === "invalid_type" || issue.code === "invalid_value")) return "required";
  if (issue.code === "invalid_type" && issue.expected === "number") return "expected a number";
  // zod prefixes type errors with "Invalid input: "; the variable name already says where.
  return issue.message.replace(/^Invalid input: /, "");
}

/** Aspire turns a resource name into an env prefix: upper case, non-alphanumerics become "_". */
export function envPrefix(connectionName: string): string {
  return connectionName.toUpperCase().replace(/[^A-Z0-9]/g, "_");
}

/**
 * Reads the connection string an orchestrator injected for a referenced resource:
 * `ConnectionStrings__<name>`, falling back to `<NAME>_URI`.
 */
export function connectionStringFromEnv(env: NodeJS.ProcessEnv, connectionName: string): string {
  const primary = `ConnectionStrings__${connectionName}`;
  const fallback = `${envPrefix(connectionName)}_URI`;
  const value = nonEmpty(env[primary]) ?? nonEmpty(env[fallback]);
  if (value === undefined) {
    throw new ConfigError(`Invalid configuration: ${primary} (or ${fallback}): required`);
  }
  return value;
}

/** The PostgreSQL URL for a referenced database (a `postgresql://` URL `pg` accepts directly). */
export function postgresUrlFromEnv(env: NodeJS.ProcessEnv, connectionName: string): string {
  const url = connectionStringFromEnv(env, connectionName);
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw new ConfigError(
      `Invalid configuration: ConnectionStrings__${connectionName}: expected a postgresql:// URL`,
    );
  }
  return url;
}

/**
 * The URL migrations run with: `<NAME>_MIGRATIONS_URI` (the database owner's credentials, which the
 * AppHost injects apart from the least-privileged `ConnectionStrings__<name>`), else the runtime URL
 * (a deployment with a single role).
 */
export function migrationsUrlFromEnv(env: NodeJS.ProcessEnv, connectionName: string): string {
  return (
    nonEmpty(env[`${envPrefix(connectionName)}_MIGRATIONS_URI`]) ?? postgresUrlFromEnv(env, connectionName)
  );
}

/** The AMQP URL for a referenced broker (`amqp://user:password@host:port`). */
export function amqpUrlFromEnv(env: NodeJS.ProcessEnv, connectionName: string): string {
  const url = connectionStringFromEnv(env, connectionName);
  if (!/^amqps?:\/\//.test(url)) {
    throw new ConfigError(
      `Invalid configuration: ConnectionStrings__${connectionName}: expected an amqp:// URL`,
    );
  }
  return url;
}

type Readers = Record<string, () => unknown>;

/**
 * Runs every reader and gathers all their ConfigErrors into one, so that start-up names every bad
 * or missing variable at once instead of one per attempt.
 */
export function readAllConfig<R extends Readers>(readers: R): { [K in keyof R]: ReturnType<R[K]> } {
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  for (const [name, read] of Object.entries(readers)) {
    try {
      values[name] = read();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(error.message.replace(/^Invalid configuration: /, ""));
    }
  }
  if (problems.length > 0) throw new ConfigError(`Invalid configuration: ${problems.join("; ")}`);
  return values as { [K in keyof R]: ReturnType<R[K]> };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}
