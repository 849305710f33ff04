import { sql } from "drizzle-orm";
import type { Queryable } from "./db.js";
import { OUTBOX_NOTIFY_CHANNEL } from "./outbox.js";
import type { OutboxAttemptOutcome, OutboxHeaders, OutboxStatus } from "./schema.js";

/** An outbox message as the admin API shows it (payload included). */
export interface OutboxMessageView {
  id: string;
  seq: number;
  aggregateType: string;
  aggregateId: string;
  type: string;
  version: number;
  destination: string;
  status: OutboxStatus;
  attempts: number;
  lastError: string | null;
  priority: number;
  deliverAt: Date | null;
  nextAttemptAt: Date;
  lockedBy: string | null;
  lockedUntil: Date | null;
  createdAt: Date;
  publishedAt: Date | null;
  deliveredAt: Date | null;
  payload: unknown;
  headers: OutboxHeaders;
}

export interface OutboxAttemptView {
  at: Date;
  outcome: OutboxAttemptOutcome;
  attempts: number;
  error: string | null;
  actor: string;
}

type Raw = Record<string, unknown>;

const columns = sql.raw(`id, seq, aggregate_type, aggregate_id, type, version, destination, status, attempts,
  last_error, priority, deliver_at, next_attempt_at, locked_by, locked_until, created_at, published_at,
  delivered_at, payload, headers`);

const date = (v: unknown): Date => new Date(v as string | Date);
const dateOrNull = (v: unknown): Date | null => (v === null || v === undefined ? null : date(v));

function toView(r: Raw): OutboxMessageView {
  return {
    id: r.id as string,
    seq: Number(r.seq),
    aggregateType: r.aggregate_type as string,
    aggregateId: r.aggregate_id as string,
    type: r.type as string,
    version: r.version as number,
    destination: r.destination as string,
    status: r.status as OutboxStatus,
    attempts: r.attempts as number,
    lastError: (r.last_error as string | null) ?? null,
    priority: r.priority as number,
    deliverAt: dateOrNull(r.deliver_at),
    nextAttemptAt: date(r.next_attempt_at),
    lockedBy: (r.locked_by as string | null) ?? null,
    lockedUntil: dateOrNull(r.locked_until),
    createdAt: date(r.created_at),
    publishedAt: dateOrNull(r.published_at),
    deliveredAt: dateOrNull(r.delivered_at),
    payload: r.payload,
    headers: (r.headers as OutboxHeaders | null) ?? {},
  };
}

/**
 * One page of messages with the given status. Each status reads through its own partial index:
 * pending and dead in seq (publish) order, published/delivered newest first.
 */
export async function listOutboxMessages(
  db: Queryable,
  status: OutboxStatus,
  page: { offset: number; limit: number },
): Promise<{ items: OutboxMessageView[]; total: number }> {
  const order =
    status === "published" || status === "delivered" ? sql.raw("published_at desc, id desc") : sql.raw("seq");
  const rows = await db.execute<Raw>(sql`
    select ${columns} from outbox_messages where status = ${status}
     order by ${order} limit ${page.limit} offset ${page.offset}`);
  const [count] = (
    await db.execute<{ n: number }>(
      sql`select count(*)::int as n from outbox_messages where status = ${status}`,
    )
  ).rows;
  return { items: rows.rows.map(toView), total: count?.n ?? 0 };
}

export async function getOutboxMessage(
  db: Queryable,
  id: string,
): Promise<{ message: OutboxMessageView; history: OutboxAttemptView[] } | undefined> {
  const [row] = (await db.execute<Raw>(sql`select ${columns} from outbox_messages where id = ${id}`)).rows;
  if (row === undefined) return undefined;
  const history = await db.execute<Raw>(sql`
    select at, outcome, attempts, error, actor from outbox_attempts where message_id = ${id} order by id`);
  return {
    message: toView(row),
    history: history.rows.map((h) => ({
      at: date(h.at),
      outcome: h.outcome as OutboxAttemptOutcome,
      attempts: h.attempts as number,
      error: (h.error as string | null) ?? null,
      actor: h.actor as string,
    })),
  };
}

export type AdminChange = "done" | "not-found" | "conflict";

/** Which state a row is in, to tell 404 from 409 after a fenced update matched nothing. */
async function exists(db: Queryable, id: string): Promise<boolean> {
  return (await db.execute(sql`select 1 from outbox_messages where id = ${id}`)).rows.length > 0;
}

/**
 * Dead rows (up to `limit`, oldest first, or exactly `id`) → pending, due now, attempts reset,
 * with a history entry, and a NOTIFY so the relays pick them up at once.
 */
async function revive(db: Queryable, where: { id: string } | { limit: number }): Promise<number> {
  const pick =
    "id" in where
      ? sql`select id from outbox_messages where id = ${where.id} and status = 'dead' for update`
      : sql`select id from outbox_messages where status = 'dead' order by seq limit ${where.limit} for update skip locked`;
  const result = await db.execute<{ destination: string }>(sql`
    with picked as (${pick}),
    u as (
      update outbox_messages o
         set status = 'pending', attempts = 0, next_attempt_at = now(), locked_by = null, locked_until = null
        from picked where o.id = picked.id
      returning o.id, o.destination
    ),
    h as (
      insert into outbox_attempts (message_id, outcome, attempts, error, actor)
      select id, 'retried-by-operator', 0, null, 'admin' from u
    )
    select destination from u`);
  for (const destination of new Set(result.rows.map((r) => r.destination)))
    await db.execute(sql`select pg_notify(${OUTBOX_NOTIFY_CHANNEL}, ${destination})`);
  return result.rows.length;
}

export async function retryDeadMessage(db: Queryable, id: string): Promise<AdminChange> {
  if ((await revive(db, { id })) === 1) return "done";
  return (await exists(db, id)) ? "conflict" : "not-found";
}

/** Replays at most `limit` dead messages; returns how many. */
export function replayDeadMessages(db: Queryable, limit: number): Promise<number> {
  return revive(db, { limit });
}

/**
 * Deletes a DEAD message, and only a dead one. A pending row may have been sent already (an
 * earlier send's outcome was unknown, or a copy is in flight right now), so deleting it would
 * neither stop that copy nor keep its aggregate's order: the next row would be unblocked and could
 * overtake it. A dead row was never accepted (a row whose send had an unknown outcome never goes
 * dead, see scheduleRetry), so deleting it removes the message for good. Published rows stay
 * (retention removes them).
 */
export async function deleteOutboxMessage(db: Queryable, id: string): Promise<AdminChange> {
  const result = await db.execute(sql`
    delete from outbox_messages where id = ${id} and status = 'dead' and not outcome_unknown`);
  if ((result.rowCount ?? 0) === 1) return "done";
  return (await exists(db, id)) ? "conflict" : "not-found";
}

export interface OutboxStats {
  counts: Record<OutboxStatus, number>;
  oldestPendingAt: Date | null;
}

export async function outboxStats(db: Queryable): Promise<OutboxStats> {
  const rows = await db.execute<{ status: OutboxStatus; n: number; oldest: string | Date | null }>(sql`
    select status, count(*)::int as n,
           min(created_at) filter (where status = 'pending') as oldest
      from outbox_messages group by status`);
  const counts: Record<OutboxStatus, number> = { pending: 0, published: 0, delivered: 0, dead: 0 };
  let oldestPendingAt: Date | null = null;
  for (const r of rows.rows) {
    counts[r.status] = r.n;
    if (r.status === "pending" && r.oldest !== null) oldestPendingAt = new Date(r.oldest);
  }
  return { counts, oldestPendingAt };
}

/** Pending and dead counts and the oldest pending row, read through partial indexes (metrics). */
export async function outboxGaugeFigures(
  db: Queryable,
): Promise<{ pending: number; dead: number; oldestPendingAt: Date | null }> {
  const [row] = (
    await db.execute<{ pending: number; dead: number; oldest: string | Date | null }>(sql`
      select (select count(*)::int from outbox_messages where status = 'pending') as pending,
             (select count(*)::int from outbox_messages where status = 'dead') as dead,
             (select min(created_at) from outbox_messages where status = 'pending') as oldest`)
  ).rows;
  return {
    pending: row?.pending ?? 0,
    dead: row?.dead ?? 0,
    oldestPendingAt: row?.oldest === null || row?.oldest === undefined ? null : new Date(row.oldest),
  };
}
