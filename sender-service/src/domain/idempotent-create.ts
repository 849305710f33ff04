import { createHash } from "node:crypto";
import type { Database } from "../data/db.js";
import { claimIdempotencyKey, findResponse, saveResponse } from "../data/idempotency-keys.js";
import { createEntityItemIn, type CreateEntityItemDeps } from "./create-entity-item.js";
import type { NewEntityItem } from "./entity-item.js";

export interface IdempotentCreateDeps extends CreateEntityItemDeps {
  db: Database;
  /** How long a key (and the response stored under it) is remembered. */
  keyTtlMs: number;
}

export type IdempotentResult =
  /** First request with this key: the entity was created now. */
  | { kind: "created"; statusCode: number; body: unknown; location: string }
  /** A retry: the original response, nothing created. */
  | { kind: "replayed"; statusCode: number; body: unknown; location: string | null }
  /** The key was used with another body. */
  | { kind: "mismatch" };

/** SHA-256 of the validated request in a canonical form (key order and defaults fixed). */
export function requestHash(input: NewEntityItem): string {
  const canonical = JSON.stringify({ name: input.name, description: input.description ?? null });
  return createHash("sha256").update(canonical).digest("hex");
}

/**
 * POST /api/EntityItems with an Idempotency-Key: the key, the entity, its outbox row and the
 * response are written in ONE transaction. A retry (same key, same body) gets the stored response
 * and creates nothing; a concurrent duplicate waits for the first transaction and then does the
 * same; the same key with a different body is a mismatch (422).
 */
export async function createEntityItemIdempotently(
  deps: IdempotentCreateDeps,
  key: string,
  input: NewEntityItem,
  attempt = 1,
): Promise<IdempotentResult> {
  const hash = requestHash(input);
  const created = await deps.db.transaction(async (tx) => {
    if (!(await claimIdempotencyKey(tx, key, hash, deps.keyTtlMs))) return undefined;
    const item = await createEntityItemIn(tx, deps, input);
    const location = `/api/EntityItems/${item.id}`;
    await saveResponse(tx, key, { statusCode: 201, body: item, location });
    return { kind: "created" as const, statusCode: 201, body: item, location };
  });
  if (created !== undefined) return created;

  // Someone else owns the key and has committed (the claim waited for that).
  const stored = await findResponse(deps.db, key);
  if (stored === undefined) {
    // It expired between our claim and this read: run as a new request (bounded, it cannot loop).
    if (attempt >= 3) throw new Error(`Idempotency key could neither be claimed nor read: ${key}`);
    return createEntityItemIdempotently(deps, key, input, attempt + 1);
  }
  if (stored.requestHash !== hash) return { kind: "mismatch" };
  return { kind: "replayed", statusCode: stored.statusCode, body: stored.body, location: stored.location };
}
