import { sql } from "drizzle-orm";
import type { SqlDb } from "./sql-db.js";
import type { OutboxTables } from "./tables.js";

export interface OutboxGaugeFigures {
  pending: number;
  dead: number;
  /** Keys (per destination) stopped at an ordered dead row. */
  blockedAggregates: number;
  oldestPendingAt: Date | null;
}

/** The relay's gauges in one query (read only when a metrics reader collects). */
export async function outboxGaugeFigures(db: SqlDb, tables: OutboxTables): Promise<OutboxGaugeFigures> {
  const messages = tables.outboxMessages;
  const [row] = (
    await db.execute<{ pending: number; dead: number; blocked: number; oldest: string | Date | null }>(sql`
      select (select count(*)::int from ${messages} where status = 'pending') as pending,
             (select count(*)::int from ${messages} where status = 'dead') as dead,
             (select count(*)::int from (
                select distinct aggregate_type, aggregate_id, destination
                  from ${messages} where status = 'dead' and ordered) b) as blocked,
             (select min(created_at) from ${messages} where status = 'pending') as oldest`)
  ).rows;
  return {
    pending: row?.pending ?? 0,
    dead: row?.dead ?? 0,
    blockedAggregates: row?.blocked ?? 0,
    oldestPendingAt: row?.oldest === null || row?.oldest === undefined ? null : new Date(row.oldest),
  };
}
