import type { Database, Transaction } from "../data/db.js";
import {
  claimIdempotencyKey,
  findResponse,
  saveResponse,
  type StoredReply,
} from "../data/idempotency-keys.js";

export type { StoredReply };

export type IdempotentOutcome<R> =
  /** First request with this key: the work ran and its reply is stored. */
  | { kind: "fresh"; reply: StoredReply }
  /** A retry: the stored reply, byte for byte; nothing ran. */
  | { kind: "replayed"; reply: StoredReply }
  /** The key was used with another request. */
  | { kind: "mismatch" }
  /** The work refused (e.g. 404, 412): nothing was stored, the key stays free for a retry. */
  | { kind: "refused"; value: R };

/** The work's answer: a reply to store and send, or a refusal that rolls everything back. */
export type WorkResult<R> = { reply: StoredReply } | { refused: R };

class Refusal<R> extends Error {
  constructor(readonly value: R) {
    super("idempotent request refused");
  }
}

/**
 * Runs `work` once per Idempotency-Key: the key, the work's writes and the reply are committed in
 * ONE transaction. A retry (same key, same request hash) gets the stored reply and runs nothing; a
 * concurrent duplicate waits for the first transaction and then does the same; the same key with
 * another request is a mismatch. A refusal is not stored: the key claim rolls back with it.
 */
export async function runIdempotently<R>(
  db: Database,
  key: string,
  hash: string,
  ttlMs: number,
  work: (tx: Transaction) => Promise<WorkResult<R>>,
  attempt = 1,
): Promise<IdempotentOutcome<R>> {
  let fresh: StoredReply | undefined;
  try {
    fresh = await db.transaction(async (tx) => {
      if (!(await claimIdempotencyKey(tx, key, hash, ttlMs))) return undefined;
      const result = await work(tx);
      if ("refused" in result) throw new Refusal(result.refused);
      await saveResponse(tx, key, result.reply);
      return result.reply;
    });
  } catch (error) {
    if (error instanceof Refusal) return { kind: "refused", value: error.value as R };
    throw error;
  }
  if (fresh !== undefined) return { kind: "fresh", reply: fresh };

  // Someone else owns the key and has committed (the claim waited for that).
  const stored = await findResponse(db, key);
  if (stored === undefined) {
    // It expired between our claim and this read: run as a new request (bounded, it cannot loop).
    if (attempt >= 3) throw new Error(`Idempotency key could neither be claimed nor read: ${key}`);
    return runIdempotently(db, key, hash, ttlMs, work, attempt + 1);
  }
  if (stored.requestHash !== hash) return { kind: "mismatch" };
  return { kind: "replayed", reply: stored.reply };
}
