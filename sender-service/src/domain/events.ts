import type { EntityItem } from "./entity-item.js";

/**
 * Integration events this service publishes. The shape is part of the contract with the
 * receiver: a change here needs a new version, never an edit of an existing one.
 */
export const ENTITY_ITEM_AGGREGATE = "EntityItem";

export const EntityItemCreatedV1 = {
  type: "EntityItemCreated",
  version: 1,
} as const;

export type EntityItemCreatedPayload = Pick<EntityItem, "id" | "name" | "description" | "createdAt">;

export function entityItemCreatedPayload(item: EntityItem): EntityItemCreatedPayload {
  return { id: item.id, name: item.name, description: item.description, createdAt: item.createdAt };
}

/**
 * EntityItemUpdated v1: the entity's new state and the aggregate version it reached (2, 3, ...).
 * The receiver applies version n only on top of n-1, so it never applies an update twice, never
 * skips one and never applies them out of order.
 */
export const EntityItemUpdatedV1 = {
  type: "EntityItemUpdated",
  version: 1,
} as const;

export type EntityItemUpdatedPayload = Pick<EntityItem, "id" | "name" | "description" | "version"> & {
  updatedAt: string;
};

export function entityItemUpdatedPayload(item: EntityItem): EntityItemUpdatedPayload {
  if (item.updatedAt === null) throw new Error(`EntityItem ${item.id} has no update time`);
  return {
    id: item.id,
    name: item.name,
    description: item.description,
    version: item.version,
    updatedAt: item.updatedAt,
  };
}
