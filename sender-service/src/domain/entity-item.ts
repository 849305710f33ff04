/** The entity as the API returns it and as the EntityItemCreated v1 event carries it. */
export interface EntityItem {
  id: string;
  name: string;
  description: string | null;
  /** ISO-8601 timestamp. */
  createdAt: string;
  /** Aggregate version: 1 when created, +1 per update (the ETag). */
  version: number;
  /** ISO-8601 timestamp of the last update; null until the first one. */
  updatedAt: string | null;
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
  version: number;
  updatedAt: Date | null;
}): EntityItem {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    createdAt: row.createdAt.toISOString(),
    version: row.version,
    updatedAt: row.updatedAt?.toISOString() ?? null,
  };
}

/** The strong ETag of a version: `"3"`. */
export function etagOf(version: number): string {
  return `"${version}"`;
}
