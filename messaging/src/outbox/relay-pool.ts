import pg from "pg";

export interface RelayPoolOptions {
  max: number;
  applicationName: string;
  /** Default false: the relay's writes commit without waiting for the WAL flush (see below). */
  synchronousCommit: boolean;
  onError: (error: Error) => void;
}

/**
 * How to reach the database, taken from the application's pool: the relay and its LISTEN connection
 * open connections of their own with these settings (its pool's tuning — size, statement timeout —
 * stays the application's).
 */
export function connectionSettings(pool: pg.Pool): pg.ClientConfig {
  const { connectionString, host, port, user, password, database, ssl, options, connectionTimeoutMillis } =
    pool.options;
  const settings: pg.ClientConfig = { connectionTimeoutMillis: connectionTimeoutMillis ?? 5_000 };
  if (connectionString !== undefined) settings.connectionString = connectionString;
  if (host !== undefined) settings.host = host;
  if (port !== undefined) settings.port = port;
  if (user !== undefined) settings.user = user;
  if (password !== undefined) settings.password = password;
  if (database !== undefined) settings.database = database;
  if (ssl !== undefined) settings.ssl = ssl;
  if (options !== undefined) settings.options = options;
  return settings;
}

/**
 * The relay's own connections, apart from the application's pool, with `synchronous_commit = off`
 * by default. Every relay write (claim, mark published, release, retry/dead, retention delete) is
 * then visible at once but flushed to disk a few hundred milliseconds later, so the relay never
 * waits for an fsync on the way from commit to broker and its commits do not queue behind the
 * application's for the WAL flush. Safe because losing the tail of these writes in a PostgreSQL
 * crash only moves rows back to an earlier state the relay recovers from: a lost claim frees the
 * row, a lost "published" makes it pending again and it is resent — dropped by the broker's
 * duplicate detection. WAL is replayed in order, so what survives is always a prefix of what
 * happened, and per-key order (a row is claimed only after its predecessor's "published" was
 * committed) survives with it. The application's writes (business row + outbox row) stay fully
 * synchronous: they never go through this pool.
 */
export function createRelayPool(from: pg.Pool, opts: RelayPoolOptions): pg.Pool {
  const settings = connectionSettings(from);
  const options = opts.synchronousCommit
    ? settings.options
    : [settings.options, "-c synchronous_commit=off"].filter((o) => o !== undefined && o !== "").join(" ");
  const pool = new pg.Pool({
    ...settings,
    ...(options === undefined ? {} : { options }),
    max: opts.max,
    application_name: opts.applicationName,
    idleTimeoutMillis: 30_000,
  });
  // An idle client whose server went away emits 'error' on the pool; unhandled, it kills the process.
  pool.on("error", opts.onError);
  // A checked-out client has no pool listener: when the server dies between two statements the
  // client emits 'error' with no query to fail; the next query fails as usual, so log only.
  pool.on("connect", (client) => client.on("error", opts.onError));
  return pool;
}
