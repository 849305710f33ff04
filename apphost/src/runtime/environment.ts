import { envPrefix } from "../model/resource.js";

/** How a running infrastructure resource is reached; the source of every injected variable. */
export interface ConnectionInfo {
  uri: string;
  host: string;
  port: number;
  username: string;
  password: string;
  databaseName?: string;
  /**
   * Databases: the owner role's URL. A service's migrations step gets it (as
   * `<NAME>_MIGRATIONS_URI`, see migrationsEnvironment), and so does a resource that references the
   * database with the owner role (one without a migrations step: it creates its own tables).
   */
  migrationsUri?: string;
  /**
   * Brokers: each client's own user, by client resource name. A client gets its own credentials
   * injected, never the ones above (those are the AppHost's).
   */
  clients?: Record<string, { username: string; password: string }>;
}

/** The connection as `client` must see it: with its own credentials where the target has per-client users. */
export function connectionFor(info: ConnectionInfo, client: string): ConnectionInfo {
  if (info.clients === undefined) return info;
  const own = info.clients[client];
  if (own === undefined)
    throw new Error(`"${client}" has no user of its own on this resource: reference it with withReference()`);
  const { clients: _all, uri, ...rest } = info;
  const userInfo = `${encodeURIComponent(own.username)}:${encodeURIComponent(own.password)}@`;
  return {
    ...rest,
    username: own.username,
    password: own.password,
    uri: uri.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)(?:[^@/]*@)?/, `$1${userInfo}`),
  };
}

/** Which of a database's two roles a referencing resource connects as (runtime/postgres-roles.ts). */
export type DatabaseRole = "owner" | "runtime";

/**
 * A database connection with the owner's credentials instead of the runtime role's: for a resource
 * that creates its own tables (it is its own migrator). Fails for a target that is not a database.
 */
export function ownerConnection(info: ConnectionInfo, client: string): ConnectionInfo {
  if (info.migrationsUri === undefined)
    throw new Error(`"${client}" asks for the owner role of a resource that is not a database`);
  const owner = new URL(info.migrationsUri);
  const { migrationsUri, ...rest } = info;
  return {
    ...rest,
    username: decodeURIComponent(owner.username),
    password: decodeURIComponent(owner.password),
    uri: migrationsUri,
  };
}

/**
 * Variables `client` gets for one reference, in .NET Aspire's conventions:
 * `ConnectionStrings__<name>` plus `<NAME>_URI`, `_HOST`, `_PORT`, `_USERNAME`, `_PASSWORD`.
 * Where the target has per-client users (a broker), they are the client's own; a database's are its
 * runtime role's unless `role` is "owner".
 */
export function referenceEnvironment(
  connectionName: string,
  target: ConnectionInfo,
  client: string,
  role: DatabaseRole = "runtime",
): Record<string, string> {
  const info = role === "owner" ? ownerConnection(target, client) : connectionFor(target, client);
  const prefix = envPrefix(connectionName);
  const env: Record<string, string> = {
    [`ConnectionStrings__${connectionName}`]: info.uri,
    [`${prefix}_URI`]: info.uri,
    [`${prefix}_HOST`]: info.host,
    [`${prefix}_PORT`]: String(info.port),
    [`${prefix}_USERNAME`]: info.username,
    [`${prefix}_PASSWORD`]: info.password,
  };
  if (info.databaseName !== undefined) env[`${prefix}_DATABASENAME`] = info.databaseName;
  return env;
}

/**
 * What a migrations step gets on top of its references: `<NAME>_MIGRATIONS_URI`, the database
 * owner's URL. Empty for a target that is not a database.
 */
export function migrationsEnvironment(
  connectionName: string,
  target: ConnectionInfo,
): Record<string, string> {
  if (target.migrationsUri === undefined) return {};
  return { [`${envPrefix(connectionName)}_MIGRATIONS_URI`]: target.migrationsUri };
}

/** Service discovery for a referenced service: `services__<name>__http__0=<url>`. */
export function serviceDiscoveryEnvironment(
  serviceName: string,
  endpoints: Record<string, string>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [scheme, url] of Object.entries(endpoints)) env[`services__${serviceName}__${scheme}__0`] = url;
  return env;
}

export interface TelemetryEnvironmentOptions {
  serviceName: string;
  otlpEndpoint?: string;
  otlpHeaders?: string;
  instanceId: string;
}

export function telemetryEnvironment(options: TelemetryEnvironmentOptions): Record<string, string> {
  const env: Record<string, string> = {
    OTEL_SERVICE_NAME: options.serviceName,
    OTEL_RESOURCE_ATTRIBUTES: `service.instance.id=${options.instanceId}`,
  };
  if (options.otlpEndpoint) {
    env.OTEL_EXPORTER_OTLP_ENDPOINT = options.otlpEndpoint;
    // The services export OTLP/HTTP with JSON bodies; the dashboard's intake reads JSON.
    env.OTEL_EXPORTER_OTLP_PROTOCOL = "http/json";
    // Short intervals so a local dashboard shows activity promptly.
    env.OTEL_BSP_SCHEDULE_DELAY = "1000";
    env.OTEL_METRIC_EXPORT_INTERVAL = "5000";
  }
  if (options.otlpHeaders) env.OTEL_EXPORTER_OTLP_HEADERS = options.otlpHeaders;
  return env;
}

export function postgresUri(info: Omit<ConnectionInfo, "uri" | "migrationsUri">): string {
  const user = encodeURIComponent(info.username);
  const password = encodeURIComponent(info.password);
  const database = info.databaseName ? `/${encodeURIComponent(info.databaseName)}` : "";
  return `postgresql://${user}:${password}@${info.host}:${info.port}${database}`;
}

export function amqpUri(info: Omit<ConnectionInfo, "uri">): string {
  return `amqp://${encodeURIComponent(info.username)}:${encodeURIComponent(info.password)}@${info.host}:${info.port}`;
}

/** Hides the password of a connection URI for display. */
export function maskUri(uri: string): string {
  return uri.replace(/(\/\/[^:/@]+:)[^@]*@/, "$1***@");
}
