import {
  ENTITY_ITEM_DESCRIPTION,
  ENTITY_ITEM_NAME,
  limitedTextField,
  pageResponseSchema,
} from "@outbox/service-defaults";
import { z } from "zod";

export const entityItemSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    description: z.string().nullable(),
    createdAt: z.iso.datetime(),
    version: z.number().int().min(1).meta({ description: "1 when created, +1 per update; the ETag" }),
    updatedAt: z.iso.datetime().nullable(),
  })
  .meta({
    id: "EntityItem",
    example: {
      id: "01981a2b-3c4d-7e5f-8a9b-0c1d2e3f4a5b",
      name: "First item",
      description: null,
      createdAt: "2025-07-01T12:00:00.000Z",
      version: 1,
      updatedAt: null,
    },
  });

/**
 * The limits the receivers' event schemas apply too (service-defaults' text-limits.ts), so that
 * whatever this API accepts is applied by every consumer group.
 */
const nameField = limitedTextField(ENTITY_ITEM_NAME, "The item's name");
const descriptionField = limitedTextField(ENTITY_ITEM_DESCRIPTION, "Free text about the item")
  .nullable()
  .optional();

/** Strict: unknown keys are rejected, so a typo never silently drops data. */
export const createEntityItemSchema = z
  .strictObject({ name: nameField, description: descriptionField })
  .meta({ id: "CreateEntityItem", example: { name: "First item", description: "Created through the API" } });

/** PUT body: the full new state (an omitted description becomes null, as on create). */
export const updateEntityItemSchema = z
  .strictObject({ name: nameField, description: descriptionField })
  .meta({
    id: "UpdateEntityItem",
    example: { name: "Renamed item", description: "Updated through the API" },
  });

export const entityItemIdParamsSchema = z.object({
  id: z.uuid().meta({ description: "Entity id (UUID)" }),
});

export const entityItemPageSchema = pageResponseSchema(entityItemSchema).meta({ id: "EntityItemPage" });
