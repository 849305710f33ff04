import type { Assume, SQL } from "drizzle-orm";
import type pg from "pg";

/**
 * What the relay's statements need of a database: a drizzle node-postgres database or
 * transaction (structurally, so a host's drizzle instance with its own schema fits too).
 */
export interface SqlDb {
  execute<T extends Record<string, unknown> = Record<string, unknown>>(
    query: SQL,
  ): PromiseLike<pg.QueryResult<Assume<T, pg.QueryResultRow>>>;
}

/** A database that can also open transactions (the retention job's batches). */
export interface TransactionalSqlDb extends SqlDb {
  transaction<T>(run: (tx: SqlDb) => Promise<T>): Promise<T>;
}
