import pg from "pg";
import type { PostgresDatabaseResource } from "../model/postgres.js";
import { postgresUri, type ConnectionInfo } from "../runtime/environment.js";
import type { ResourceProvider, StartContext, StartedResource } from "../runtime/provider.js";

/**
 * A database on a started server, created when missing and never dropped. It needs nothing but the
 * server's connection information, so the process and the container provider share it.
 */
export class PostgresDatabaseProvider implements ResourceProvider<PostgresDatabaseResource> {
  async start(resource: PostgresDatabaseResource, context: StartContext): Promise<StartedResource> {
    const server = context.lookup(resource.server.name);
    if (!server.connection) throw new Error(`Server "${resource.server.name}" has no connection information`);
    const { uri: _serverUri, ...serverInfo } = server.connection;
    const admin = new pg.Client({ ...postgresClientConfig({ ...serverInfo, databaseName: "postgres" }) });
    await admin.connect();
    try {
      const found = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [
        resource.databaseName,
      ]);
      if (found.rowCount === 0) {
        context.log(`creating database ${resource.databaseName}`);
        await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(resource.databaseName)}`);
      }
    } finally {
      await admin.end();
    }
    const info: Omit<ConnectionInfo, "uri"> = { ...serverInfo, databaseName: resource.databaseName };
    // The server may have been restarted since (a new process or container on the same port).
    const current = () => {
      try {
        return context.lookup(resource.server.name);
      } catch {
        return server;
      }
    };
    return {
      get pid() {
        return current().pid;
      },
      get container() {
        return current().container;
      },
      endpoints: {},
      connection: { ...info, uri: postgresUri(info) },
      // A database lives and dies with its server.
      exited: server.exited,
      checkHealth: () => probePostgres(info),
      stop: async () => {},
      kill: async () => {},
    };
  }
}

export function postgresClientConfig(info: Omit<ConnectionInfo, "uri">): pg.ClientConfig {
  return {
    host: info.host,
    port: info.port,
    user: info.username,
    password: info.password,
    database: info.databaseName,
    connectionTimeoutMillis: 2000,
  };
}

/** Healthy = a new connection runs `SELECT 1`. */
export async function probePostgres(
  info: Omit<ConnectionInfo, "uri">,
): Promise<{ healthy: boolean; detail?: string }> {
  const client = new pg.Client(postgresClientConfig(info));
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query("SELECT 1");
    return { healthy: true };
  } catch (error) {
    return { healthy: false, detail: (error as Error).message };
  } finally {
    await client.end().catch(() => {});
  }
}
