/** The entity as the API returns it and as the EntityItemCreated v1 event carries it. */
export interface EntityItem {
  id: string;
  name: string;
  description: string | null;
  /** ISO-8601 timestamp. */
  createdAt: string;
}

export interface NewEntityItem {
  name: string;
  description?: string | null | undefined;
}

export function toEntityItem(row: {
  id: string;
  name: string;
  description: string | null;
  createdAt: Date;
}): EntityItem {
  return { id: row.id, name: row.name, description: row.description, createdAt: row.createdAt.toISOString() };
}
