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
