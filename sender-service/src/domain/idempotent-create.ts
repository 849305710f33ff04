import { createHash } from "node:crypto";
import type { Database } from "../data/db.js";
import { createEntityItemIn, type CreateEntityItemDeps } from "./create-entity-item.js";
import type { NewEntityItem } from "./entity-item.js";
import { runIdempotently, type IdempotentOutcome } from "./idempotent-request.js";

export interface IdempotentCreateDeps extends CreateEntityItemDeps {
  db: Database;
  /** How long a key (and the response stored under it) is remembered. */
  keyTtlMs: number;
}

/** SHA-256 of the validated request in a canonical form (key order and defaults fixed). */
export function requestHash(input: NewEntityItem): string {
  const canonical = JSON.stringify({ name: input.name, description: input.description ?? null });
  return sha256(canonical);
}

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/**
 * POST /api/EntityItems with an Idempotency-Key: the key, the entity, its outbox row and the
 * response (as the exact bytes sent) are written in ONE transaction (see runIdempotently).
 */
export async function createEntityItemIdempotently(
  deps: IdempotentCreateDeps,
  key: string,
  input: NewEntityItem,
): Promise<IdempotentOutcome<never>> {
  return runIdempotently<never>(deps.db, key, requestHash(input), deps.keyTtlMs, async (tx) => {
    const item = await createEntityItemIn(tx, deps, input);
    return {
      reply: {
        statusCode: 201,
        bodyText: JSON.stringify(item),
        location: `/api/EntityItems/${item.id}`,
        etag: null,
      },
    };
  });
}
