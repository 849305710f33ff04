import { v7 as uuidv7 } from "uuid";
import type { Database, Transaction } from "../data/db.js";
import { insertEntityItem } from "../data/entity-items.js";
import { outbox } from "../messaging/outbox.js";
import { toEntityItem, type EntityItem, type NewEntityItem } from "./entity-item.js";
import { ENTITY_ITEM_AGGREGATE, entityItemCreatedPayload, EntityItemCreatedV1 } from "./events.js";

export interface CreateEntityItemDeps {
  db: Database;
  /** AMQP address the EntityItemCreated event goes to. */
  outboxAddress: string;
}

/**
 * Creates an entity and records that it was created, in ONE transaction: either both rows
 * exist or neither does. Publishing is not done here: the relay picks the outbox row up after
 * the commit, so a broker outage never fails or slows down the request.
 */
export async function createEntityItem(
  deps: CreateEntityItemDeps,
  input: NewEntityItem,
): Promise<EntityItem> {
  return deps.db.transaction((tx) => createEntityItemIn(tx, deps, input));
}

/**
 * The same inside a transaction the caller owns (the Idempotency-Key path stores its key and the
 * response in the same transaction: see idempotent-create.ts).
 */
export async function createEntityItemIn(
  tx: Transaction,
  deps: Pick<CreateEntityItemDeps, "outboxAddress">,
  input: NewEntityItem,
): Promise<EntityItem> {
  const item = toEntityItem(
    await insertEntityItem(tx, { id: uuidv7(), name: input.name, description: input.description ?? null }),
  );

  await outbox.enqueue(tx, {
    id: uuidv7(), // time ordered: also the AMQP message id and the broker's duplicate-detection id
    aggregateType: ENTITY_ITEM_AGGREGATE,
    key: item.id,
    type: EntityItemCreatedV1.type,
    version: EntityItemCreatedV1.version,
    destination: deps.outboxAddress,
    payload: entityItemCreatedPayload(item),
  });

  return item;
}
