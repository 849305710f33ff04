import type { Database, Transaction } from "../data/db.js";
import { etagOf, type NewEntityItem } from "./entity-item.js";
import { sha256 } from "./idempotent-create.js";
import { runIdempotently, type IdempotentOutcome, type WorkResult } from "./idempotent-request.js";
import { updateEntityItemIn } from "./update-entity-item.js";

export interface UpdateRequest {
  id: string;
  expectedVersion: number;
  input: NewEntityItem;
}

export type UpdateRefusal = { kind: "not-found" } | { kind: "version-mismatch"; currentVersion: number };

interface UpdateDeps {
  db: Database;
  outboxAddress: string;
}

/** Everything that makes two PUTs the same request (a key reused for another one is a mismatch). */
export function updateRequestHash(request: UpdateRequest): string {
  return sha256(
    JSON.stringify({
      op: "update",
      id: request.id,
      ifMatch: request.expectedVersion,
      name: request.input.name,
      description: request.input.description ?? null,
    }),
  );
}

async function run(
  deps: UpdateDeps,
  request: UpdateRequest,
  keyed: { key: string; ttlMs: number } | undefined,
): Promise<IdempotentOutcome<UpdateRefusal>> {
  const work = async (tx: Transaction): Promise<WorkResult<UpdateRefusal>> => {
    const result = await updateEntityItemIn(tx, deps, request.id, request.expectedVersion, request.input);
    if (result.kind !== "updated") return { refused: result };
    const reply = {
      statusCode: 200,
      bodyText: JSON.stringify(result.item),
      location: null,
      etag: etagOf(result.item.version),
    };
    return { reply };
  };
  if (keyed !== undefined)
    return runIdempotently(deps.db, keyed.key, updateRequestHash(request), keyed.ttlMs, work);
  const result = await deps.db.transaction(work);
  return "refused" in result
    ? { kind: "refused", value: result.refused }
    : { kind: "fresh", reply: result.reply };
}

/** PUT without an Idempotency-Key: one transaction, entity + outbox row. */
export function updateEntityItem(deps: UpdateDeps, request: UpdateRequest) {
  return run(deps, request, undefined);
}

/** PUT with an Idempotency-Key: a retry after a lost response gets the same 200 instead of a 412. */
export function updateEntityItemIdempotently(
  deps: UpdateDeps & { keyTtlMs: number },
  key: string,
  request: UpdateRequest,
) {
  return run(deps, request, { key, ttlMs: deps.keyTtlMs });
}
