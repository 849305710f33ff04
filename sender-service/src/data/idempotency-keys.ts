import { sql } from "drizzle-orm";
import type { Queryable, Transaction } from "./db.js";

/** A reply as sent: the body is the exact text (a replay must be byte-identical). */
export interface StoredReply {
  statusCode: number;
  bodyText: string;
  location: string | null;
  etag: string | null;
}

export interface StoredResponse {
  requestHash: string;
  reply: StoredReply;
}

/**
 * Claims `key` for this transaction: true when it is ours (new, or an expired one taken over),
 * false when another request owns it. A concurrent claim of the same key blocks on the primary
 * key until the owner commits (then: false) or rolls back (then: true), so exactly one request
 * with a given key ever does the work. The placeholder response is replaced by saveResponse in the
 * same transaction, so nobody ever reads it.
 */
export async function claimIdempotencyKey(
  tx: Transaction,
  key: string,
  requestHash: string,
  ttlMs: number,
): Promise<boolean> {
  const result = await tx.execute(sql`
    INSERT INTO idempotency_keys (key, request_hash, status_code, response_body, location, created_at, expires_at)
    VALUES (${key}, ${requestHash}, 0, 'null'::jsonb, NULL, now(), now() + ${ttlMs} * interval '1 millisecond')
    ON CONFLICT (key) DO UPDATE
      SET request_hash = EXCLUDED.request_hash, status_code = 0, response_body = 'null'::jsonb,
          response_text = NULL, location = NULL, etag = NULL, created_at = now(),
          expires_at = EXCLUDED.expires_at
      WHERE idempotency_keys.expires_at <= now()
    RETURNING key`);
  return result.rows.length === 1;
}

/**
 * Stores the reply: response_text is what a replay sends (byte for byte); response_body keeps the
 * same JSON as jsonb for operators' queries.
 */
export async function saveResponse(tx: Transaction, key: string, reply: StoredReply) {
  await tx.execute(sql`
    UPDATE idempotency_keys
       SET status_code = ${reply.statusCode}, response_body = ${reply.bodyText}::jsonb,
           response_text = ${reply.bodyText}, location = ${reply.location}, etag = ${reply.etag}
     WHERE key = ${key}`);
}

/** The committed response for a key that has not expired. */
export async function findResponse(db: Queryable, key: string): Promise<StoredResponse | undefined> {
  const result = await db.execute<{
    request_hash: string;
    status_code: number;
    response_body: unknown;
    response_text: string | null;
    location: string | null;
    etag: string | null;
  }>(sql`
    SELECT request_hash, status_code, response_body, response_text, location, etag
      FROM idempotency_keys WHERE key = ${key} AND expires_at > now()`);
  const row = result.rows[0];
  if (row === undefined) return undefined;
  return {
    requestHash: row.request_hash,
    reply: {
      statusCode: row.status_code,
      // Keys stored before response_text existed replay their jsonb (same JSON, maybe other key order).
      bodyText: row.response_text ?? JSON.stringify(row.response_body),
      location: row.location,
      etag: row.etag,
    },
  };
}

/**
 * Deletes up to `limit` expired keys (small batches keep locks and WAL short); returns how many.
 * The outer `expires_at <= now()` matters: when the DELETE waits on a row lock (a new request is
 * taking the expired key over), PostgreSQL re-checks the outer conditions against the row as
 * committed, not the subquery's; without it the purge would delete the key just taken over, and a
 * retry of that request would create a second entity.
 */
export async function purgeExpiredKeys(db: Queryable, limit: number): Promise<number> {
  const result = await db.execute(sql`
    DELETE FROM idempotency_keys
     WHERE key IN (SELECT key FROM idempotency_keys WHERE expires_at <= now() ORDER BY expires_at LIMIT ${limit})
       AND expires_at <= now()`);
  return result.rowCount ?? 0;
}
