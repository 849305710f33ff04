import type { Database } from "../data/db.js";
import { countEntityItems, findEntityItem, listEntityItems } from "../data/entity-items.js";
import { toEntityItem, type EntityItem } from "./entity-item.js";

export async function getEntityItem(db: Database, id: string): Promise<EntityItem | undefined> {
  const row = await findEntityItem(db, id);
  return row === undefined ? undefined : toEntityItem(row);
}

/** One page, newest first, with the total count for the pager. */
export async function listEntityItemsPage(
  db: Database,
  page: { page: number; pageSize: number },
): Promise<{ items: EntityItem[]; page: number; pageSize: number; total: number }> {
  const [rows, total] = await Promise.all([
    listEntityItems(db, { offset: (page.page - 1) * page.pageSize, limit: page.pageSize }),
    countEntityItems(db),
  ]);
  return { items: rows.map(toEntityItem), page: page.page, pageSize: page.pageSize, total };
}
