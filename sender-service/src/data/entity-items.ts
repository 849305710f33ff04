import { and, count, desc, eq, sql } from "drizzle-orm";
import type { Queryable } from "./db.js";
import { entityItems, type EntityItemRow } from "./schema.js";

export async function insertEntityItem(
  db: Queryable,
  item: { id: string; name: string; description: string | null },
): Promise<EntityItemRow> {
  const [row] = await db.insert(entityItems).values(item).returning();
  if (row === undefined) throw new Error("insert into entity_items returned no row");
  return row;
}

export async function findEntityItem(db: Queryable, id: string): Promise<EntityItemRow | undefined> {
  const [row] = await db.select().from(entityItems).where(eq(entityItems.id, id)).limit(1);
  return row;
}

/** Newest first; id breaks ties so pages are stable. */
export async function listEntityItems(
  db: Queryable,
  page: { offset: number; limit: number },
): Promise<EntityItemRow[]> {
  return db
    .select()
    .from(entityItems)
    .orderBy(desc(entityItems.createdAt), desc(entityItems.id))
    .limit(page.limit)
    .offset(page.offset);
}

export async function countEntityItems(db: Queryable): Promise<number> {
  const [row] = await db.select({ total: count() }).from(entityItems);
  return row?.total ?? 0;
}

/**
 * Replaces name and description when the row is at `expectedVersion`, bumping the version. The
 * row lock taken here is held until commit, so concurrent writers of one entity serialize and
 * their outbox rows get increasing seq values (per-aggregate order, see claimOutboxBatch).
 * undefined: no row at that version (missing, or someone else updated it first).
 */
export async function updateEntityItem(
  db: Queryable,
  update: { id: string; expectedVersion: number; name: string; description: string | null },
): Promise<EntityItemRow | undefined> {
  const [row] = await db
    .update(entityItems)
    .set({
      name: update.name,
      description: update.description,
      version: sql`${entityItems.version} + 1`,
      updatedAt: sql`clock_timestamp()`,
    })
    .where(and(eq(entityItems.id, update.id), eq(entityItems.version, update.expectedVersion)))
    .returning();
  return row;
}
