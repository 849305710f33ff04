import { sql, type SQL } from "drizzle-orm";
import type { Outbox } from "../outbox/create-outbox.js";
import type { SqlDb } from "../outbox/sql-db.js";
import type { OutboxAttemptOutcome, OutboxHeaders, OutboxStatus } from "../outbox/tables.js";

/** Where the admin queries run: a database and one outbox's tables and NOTIFY channel. */
export interface OutboxAt {
  db: SqlDb;
  messages: SQL;
  attempts: SQL;
  notifyChannel: string;
}

/** The admin queries' target for `outbox` (any schema and prefix) over `db`. */
export function outboxAt(outbox: Outbox, db: SqlDb): OutboxAt {
  return {
    db,
    // Quoted and qualified by createOutbox (validated names), so safe to splice into SQL.
    messages: sql.raw(outbox.names.messagesTable),
    attempts: sql.raw(outbox.names.attemptsTable),
    notifyChannel: outbox.names.notifyChannel,
  };
}

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
  at: OutboxAt,
  status: OutboxStatus,
  page: { offset: number; limit: number },
): Promise<{ items: OutboxMessageView[]; total: number }> {
  const order =
    status === "published" || status === "delivered" ? sql.raw("published_at desc, id desc") : sql.raw("seq");
  const rows = await at.db.execute<Raw>(sql`
    select ${columns} from ${at.messages} where status = ${status}
     order by ${order} limit ${page.limit} offset ${page.offset}`);
  const [count] = (
    await at.db.execute<{ n: number }>(
      sql`select count(*)::int as n from ${at.messages} where status = ${status}`,
    )
  ).rows;
  return { items: rows.rows.map(toView), total: count?.n ?? 0 };
}

export async function getOutboxMessage(
  at: OutboxAt,
  id: string,
): Promise<{ message: OutboxMessageView; history: OutboxAttemptView[] } | undefined> {
  const [row] = (await at.db.execute<Raw>(sql`select ${columns} from ${at.messages} where id = ${id}`)).rows;
  if (row === undefined) return undefined;
  const history = await at.db.execute<Raw>(sql`
    select at, outcome, attempts, error, actor from ${at.attempts} where message_id = ${id} order by id`);
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
async function exists(at: OutboxAt, id: string): Promise<boolean> {
  return (await at.db.execute(sql`select 1 from ${at.messages} where id = ${id}`)).rows.length > 0;
}

/**
 * Dead rows (up to `limit`, oldest first, or exactly `id`) → pending, due now, attempts reset,
 * with a history entry, and a NOTIFY so the relays pick them up at once.
 */
async function revive(at: OutboxAt, where: { id: string } | { limit: number }): Promise<number> {
  const pick =
    "id" in where
      ? sql`select id from ${at.messages} where id = ${where.id} and status = 'dead' for update`
      : sql`select id from ${at.messages} where status = 'dead' order by seq limit ${where.limit} for update skip locked`;
  const result = await at.db.execute<{ destination: string }>(sql`
    with picked as (${pick}),
    u as (
      update ${at.messages} o
         set status = 'pending', attempts = 0, next_attempt_at = now(), locked_by = null, locked_until = null
        from picked where o.id = picked.id
      returning o.id, o.destination
    ),
    h as (
      insert into ${at.attempts} (message_id, outcome, attempts, error, actor)
      select id, 'retried-by-operator', 0, null, 'admin' from u
    )
    select destination from u`);
  for (const destination of new Set(result.rows.map((r) => r.destination)))
    await at.db.execute(sql`select pg_notify(${at.notifyChannel}, ${destination})`);
  return result.rows.length;
}

export async function retryDeadMessage(at: OutboxAt, id: string): Promise<AdminChange> {
  if ((await revive(at, { id })) === 1) return "done";
  return (await exists(at, id)) ? "conflict" : "not-found";
}

/** Replays at most `limit` dead messages; returns how many. */
export function replayDeadMessages(at: OutboxAt, limit: number): Promise<number> {
  return revive(at, { limit });
}

/** What a DELETE did, or why it refused: the row is not dead, or deleting it would leave a version gap. */
export type DeleteOutcome =
  | { kind: "done" | "not-found" | "not-dead" }
  | {
      kind: "would-leave-gap";
      row: { aggregateType: string; aggregateId: string; type: string; waiting: number };
    };

/**
 * Deletes a dead message that is sent outside its aggregate's order (`ordered` false), and only
 * such a one.
 *
 * A pending row may have been sent already (an earlier send's outcome was unknown, or a copy is in
 * flight right now), so deleting it would neither stop that copy nor keep its aggregate's order.
 * A dead row in its aggregate's order is refused too: the receivers apply an aggregate's messages
 * in order, so every later one (those held behind it now, and every one written later) would be
 * refused as a gap, and the entity would never be delivered again. Retrying it is the way out.
 * An unordered dead row was never accepted (a row whose send had an unknown outcome never goes
 * dead, see scheduleRetry) and nothing waits for it, so deleting it removes that message alone.
 * Published rows stay (retention removes them).
 */
export async function deleteOutboxMessage(at: OutboxAt, id: string): Promise<DeleteOutcome> {
  const result = await at.db.execute(sql`
    delete from ${at.messages}
     where id = ${id} and status = 'dead' and not outcome_unknown and not ordered`);
  if ((result.rowCount ?? 0) === 1) return { kind: "done" };
  const [row] = (
    await at.db.execute<{
      status: string;
      ordered: boolean;
      aggregate_type: string;
      aggregate_id: string;
      type: string;
      waiting: number;
    }>(sql`
      select m.status, m.ordered, m.aggregate_type, m.aggregate_id, m.type,
             (select count(*)::int from ${at.messages} w
               where w.aggregate_type = m.aggregate_type and w.aggregate_id = m.aggregate_id
                 and w.destination = m.destination and w.ordered and w.seq > m.seq
                 and w.status in ('pending', 'dead')) as waiting
        from ${at.messages} m where m.id = ${id}`)
  ).rows;
  if (row === undefined) return { kind: "not-found" };
  if (row.status !== "dead" || !row.ordered) return { kind: "not-dead" };
  return {
    kind: "would-leave-gap",
    row: {
      aggregateType: row.aggregate_type,
      aggregateId: row.aggregate_id,
      type: row.type,
      waiting: row.waiting,
    },
  };
}

/** An aggregate stopped at a dead row (see listBlockedAggregates). */
export interface BlockedAggregateView {
  aggregateType: string;
  aggregateId: string;
  destination: string;
  /** The aggregate's first dead row on this destination: retrying it releases the aggregate. */
  deadMessage: {
    id: string;
    seq: number;
    type: string;
    /** The message's schema version (the outbox's `version` column), not the aggregate's. */
    version: number;
    attempts: number;
    lastError: string | null;
  };
  /** Later messages of the aggregate on this destination that are not published yet. */
  waiting: number;
  /** When the row went dead (its history's last `dead` entry; its creation if it has none). */
  blockedSince: Date;
}

/**
 * Aggregates stopped at a dead row: per aggregate and destination, the first ordered dead row and
 * how many later rows wait behind it. Reads the partial dead index and, per blocked aggregate, the
 * partial unpublished-aggregate index, so it stays cheap however many rows were published.
 */
export async function listBlockedAggregates(
  at: OutboxAt,
  page: { offset: number; limit: number },
): Promise<{ items: BlockedAggregateView[]; total: number }> {
  const rows = await at.db.execute<Raw>(sql`
    with first_dead as (
      select distinct on (aggregate_type, aggregate_id, destination)
             id, seq, aggregate_type, aggregate_id, destination, type, version, attempts, last_error,
             created_at
        from ${at.messages}
       where status = 'dead' and ordered
       order by aggregate_type, aggregate_id, destination, seq
    )
    select d.*,
           (select count(*)::int from ${at.messages} w
             where w.aggregate_type = d.aggregate_type and w.aggregate_id = d.aggregate_id
               and w.destination = d.destination and w.ordered and w.seq > d.seq
               and w.status in ('pending', 'dead')) as waiting,
           coalesce((select max(a.at) from ${at.attempts} a
                      where a.message_id = d.id and a.outcome = 'dead'), d.created_at) as blocked_since,
           count(*) over ()::int as total
      from first_dead d
     order by d.seq
     limit ${page.limit} offset ${page.offset}`);
  const total = rows.rows.length > 0 ? Number(rows.rows[0]?.total) : await countBlockedAggregates(at);
  return {
    total,
    items: rows.rows.map((r) => ({
      aggregateType: r.aggregate_type as string,
      aggregateId: r.aggregate_id as string,
      destination: r.destination as string,
      deadMessage: {
        id: r.id as string,
        seq: Number(r.seq),
        type: r.type as string,
        version: r.version as number,
        attempts: r.attempts as number,
        lastError: (r.last_error as string | null) ?? null,
      },
      waiting: r.waiting as number,
      blockedSince: date(r.blocked_since),
    })),
  };
}

/** How many aggregates (per destination) have an ordered dead row. */
async function countBlockedAggregates(at: OutboxAt): Promise<number> {
  const [row] = (
    await at.db.execute<{ n: number }>(sql`
      select count(*)::int as n from (
        select distinct aggregate_type, aggregate_id, destination
          from ${at.messages} where status = 'dead' and ordered) b`)
  ).rows;
  return row?.n ?? 0;
}

export interface OutboxStats {
  counts: Record<OutboxStatus, number>;
  blockedAggregates: number;
  oldestPendingAt: Date | null;
}

export async function outboxStats(at: OutboxAt): Promise<OutboxStats> {
  const rows = await at.db.execute<{ status: OutboxStatus; n: number; oldest: string | Date | null }>(sql`
    select status, count(*)::int as n,
           min(created_at) filter (where status = 'pending') as oldest
      from ${at.messages} group by status`);
  const counts: Record<OutboxStatus, number> = { pending: 0, published: 0, delivered: 0, dead: 0 };
  let oldestPendingAt: Date | null = null;
  for (const r of rows.rows) {
    counts[r.status] = r.n;
    if (r.status === "pending" && r.oldest !== null) oldestPendingAt = new Date(r.oldest);
  }
  return { counts, blockedAggregates: await countBlockedAggregates(at), oldestPendingAt };
}
