import { sql } from "drizzle-orm";
import type { Queryable, Transaction } from "./db.js";

export interface StoredResponse {
  requestHash: string;
  statusCode: number;
  body: unknown;
  location: string | null;
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
          location = NULL, created_at = now(), expires_at = EXCLUDED.expires_at
      WHERE idempotency_keys.expires_at <= now()
    RETURNING key`);
  return result.rows.length === 1;
}

export async function saveResponse(
  tx: Transaction,
  key: string,
  response: Omit<StoredResponse, "requestHash">,
) {
  await tx.execute(sql`
    UPDATE idempotency_keys
       SET status_code = ${response.statusCode}, response_body = ${JSON.stringify(response.body)}::jsonb,
           location = ${response.location}
     WHERE key = ${key}`);
}

/** The committed response for a key that has not expired. */
export async function findResponse(db: Queryable, key: string): Promise<StoredResponse | undefined> {
  const result = await db.execute<{
    request_hash: string;
    status_code: number;
    response_body: unknown;
    location: string | null;
  }>(sql`
    SELECT request_hash, status_code, response_body, location
      FROM idempotency_keys WHERE key = ${key} AND expires_at > now()`);
  const row = result.rows[0];
  if (row === undefined) return undefined;
  return {
    requestHash: row.request_hash,
    statusCode: row.status_code,
    body: row.response_body,
    location: row.location,
  };
}

/** Deletes up to `limit` expired keys (small batches keep locks and WAL short); returns how many. */
export async function purgeExpiredKeys(db: Queryable, limit: number): Promise<number> {
  const result = await db.execute(sql`
    DELETE FROM idempotency_keys
     WHERE key IN (SELECT key FROM idempotency_keys WHERE expires_at <= now() ORDER BY expires_at LIMIT ${limit})`);
  return result.rowCount ?? 0;
}
