import { sql } from "drizzle-orm";
import type { Queryable } from "./db.js";
import type { OutboxStatus } from "./schema.js";

/** An outbox id (a UUID, any case). */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The current status of each named outbox row; rows that do not exist (purged, deleted, or an id
 * that is no outbox id at all) are absent from the map. Ids that are not UUIDs are skipped rather
 * than sent to PostgreSQL, where the cast would fail the whole query. Keys are lower case.
 */
export async function outboxStatuses(
  db: Queryable,
  ids: readonly string[],
): Promise<Map<string, OutboxStatus>> {
  const wanted = [...new Set(ids.filter((id) => UUID.test(id)).map((id) => id.toLowerCase()))];
  if (wanted.length === 0) return new Map();
  const result = await db.execute<{ id: string; status: OutboxStatus }>(sql`
    select id::text as id, status from outbox_messages where id in ${wanted}`);
  return new Map(result.rows.map((row) => [row.id, row.status]));
}
