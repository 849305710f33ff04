import { drizzle, type NodePgDatabase } from "drizzle-orm/node-postgres";
import pg from "pg";
import * as schema from "./schema.js";

export type Database = NodePgDatabase<typeof schema>;
export type Transaction = Parameters<Parameters<Database["transaction"]>[0]>[0];
/** Queries take either the database or an open transaction, so use cases decide the boundaries. */
export type Queryable = Database | Transaction;

export interface PoolOptions {
  url: string;
  max: number;
  applicationName: string;
  onError: (error: Error) => void;
  /** Server settings for every connection, e.g. "-c synchronous_commit=off". */
  options?: string;
  /** `statement_timeout` of every connection (ms; 0 or unset: none): no request runs unbounded. */
  statementTimeoutMs?: number;
}

export function createPool(opts: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.max,
    application_name: opts.applicationName,
    // Fail a request quickly rather than queue it forever when the database is gone.
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    ...(opts.options === undefined ? {} : { options: opts.options }),
    ...(opts.statementTimeoutMs ? { statement_timeout: opts.statementTimeoutMs } : {}),
  });
  // An idle client whose server went away emits 'error' on the pool; unhandled, it kills the process.
  pool.on("error", opts.onError);
  // A CHECKED-OUT client has no pool listener: when the server dies between two statements of a
  // transaction (postmaster killed: every backend sends a FATAL at once), the client emits 'error'
  // with no query to fail, and unhandled that kills the process. The query that runs next fails
  // with the connection error as usual, so logging is all that is left to do here.
  pool.on("connect", (client) => client.on("error", opts.onError));
  return pool;
}

export function createDatabase(pool: pg.Pool): Database {
  return drizzle({ client: pool, schema });
}

/** `SELECT 1` bounded by a timeout, for the health check. */
export async function pingDatabase(pool: pg.Pool, timeoutMs: number): Promise<void> {
  await pool.query({ text: "SELECT 1", query_timeout: timeoutMs } as pg.QueryConfig);
}
