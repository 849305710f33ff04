import type pg from "pg";
import { createPool } from "./db.js";

export interface RelayPoolOptions {
  url: string;
  max: number;
  applicationName: string;
  /** Default false: the relay's writes commit without waiting for the WAL flush (see below). */
  synchronousCommit: boolean;
  onError: (error: Error) => void;
}

/**
 * The relay's own connections, apart from the API's pool, with `synchronous_commit = off` by
 * default. Every relay write (claim, mark published, release, retry/dead, retention delete) is
 * then visible at once but flushed to disk a few hundred milliseconds later, so the relay never
 * waits for an fsync on the way from commit to broker and its commits do not queue behind the
 * API's for the WAL flush. Safe because losing the tail of these writes in a PostgreSQL crash only
 * moves rows back to an earlier state the relay recovers from: a lost claim frees the row, a lost
 * "published" makes it pending again and it is resent — dropped by the broker's duplicate-id
 * cache. WAL is replayed in order, so what survives is always a prefix of what happened, and
 * per-aggregate order (a row is claimed only after its predecessor's "published" was committed)
 * survives with it. The API's writes (business row + outbox row) stay fully synchronous.
 */
export function createRelayPool(opts: RelayPoolOptions): pg.Pool {
  return createPool({
    url: opts.url,
    max: opts.max,
    applicationName: opts.applicationName,
    onError: opts.onError,
    options: opts.synchronousCommit ? undefined : "-c synchronous_commit=off",
  });
}
