import { v7 as uuidv7 } from "uuid";
import type { Transaction } from "../data/db.js";
import { findEntityItem, updateEntityItem } from "../data/entity-items.js";
import { outbox } from "../messaging/outbox.js";
import { toEntityItem, type EntityItem, type NewEntityItem } from "./entity-item.js";
import { ENTITY_ITEM_AGGREGATE, entityItemUpdatedPayload, EntityItemUpdatedV1 } from "./events.js";

export type UpdateResult =
  | { kind: "updated"; item: EntityItem }
  | { kind: "not-found" }
  /** The entity is at another version than the client's If-Match: it changed meanwhile. */
  | { kind: "version-mismatch"; currentVersion: number };

/**
 * Replaces an entity's name and description if it is still at `expectedVersion`, and records
 * EntityItemUpdated (with the new version) in the same transaction. Full replacement: an omitted
 * description becomes null, as on create.
 */
export async function updateEntityItemIn(
  tx: Transaction,
  deps: { outboxAddress: string },
  id: string,
  expectedVersion: number,
  input: NewEntityItem,
): Promise<UpdateResult> {
  const row = await updateEntityItem(tx, {
    id,
    expectedVersion,
    name: input.name,
    description: input.description ?? null,
  });
  if (row === undefined) {
    const current = await findEntityItem(tx, id);
    return current === undefined
      ? { kind: "not-found" }
      : { kind: "version-mismatch", currentVersion: current.version };
  }
  const item = toEntityItem(row);
  await outbox.enqueue(tx, {
    id: uuidv7(),
    aggregateType: ENTITY_ITEM_AGGREGATE,
    key: item.id,
    type: EntityItemUpdatedV1.type,
    version: EntityItemUpdatedV1.version,
    destination: deps.outboxAddress,
    payload: entityItemUpdatedPayload(item),
  });
  return { kind: "updated", item };
}
