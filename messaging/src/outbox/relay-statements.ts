import { randomUUID } from "node:crypto";
import { sql, type SQL } from "drizzle-orm";
import type { SqlDb } from "./sql-db.js";
import type { OutboxMessageRow, OutboxTables } from "./tables.js";

// The relay's statements over the outbox tables of one createOutbox() (schema and prefix).

/** What the relay needs of a claimed row. */
export type ClaimedOutboxMessage = Pick<
  OutboxMessageRow,
  | "id"
  | "seq"
  | "aggregateType"
  | "aggregateId"
  | "type"
  | "version"
  | "destination"
  | "payload"
  | "headers"
  | "attempts"
  | "createdAt"
  | "priority"
  | "deliverAt"
  | "ordered"
> & {
  /** The claim this row belongs to: fences the relay's writes (see claimOutboxBatch). */
  claimToken: string;
};

export interface ClaimRequest {
  owner: string;
  destination: string;
  limit: number;
  leaseMs: number;
  /**
   * true (the service's default): a dead row keeps the later rows of its aggregate back until an
   * operator retries it. false trades order for progress: they are published past the gap.
   */
  deadBlocksAggregate: boolean;
}

interface RawClaimedRow {
  id: string;
  seq: string | number;
  aggregate_type: string;
  aggregate_id: string;
  type: string;
  version: number;
  destination: string;
  payload: unknown;
  headers: ClaimedOutboxMessage["headers"] | null;
  attempts: number;
  created_at: string | Date;
  priority: number;
  deliver_at: string | Date | null;
  ordered: boolean;
  claim_token: string;
}

/**
 * Claims up to `limit` due pending rows for `owner` for `leaseMs`, in seq order.
 *
 * Safety with N relays: FOR UPDATE SKIP LOCKED lets concurrent relays claim disjoint batches
 * without waiting on each other; the lease (locked_until) lets rows of a crashed relay be
 * claimed again once it runs out; every later write is fenced by the claim's own token
 * (claim_token, fresh per claim: two loops of one instance, or a claim and its successor after
 * a lease ran out, never share one).
 *
 * Per-aggregate order: a row is claimable only when NO earlier row (smaller seq) of the same
 * aggregate is still pending — whether it is due, backing off after a refusal, or claimed by
 * another relay right now (a plain read sees locked rows). So at most one message per aggregate
 * is ever between "claimed" and "published", and the next one is claimed only after the
 * previous one's `published` is committed: across batches, retries and instances, an aggregate's
 * messages reach the broker in seq order, and a failing message holds back only its aggregate.
 *
 * Why seq and not created_at: created_at is now() = the transaction's START, so a transaction
 * that started earlier but committed later would sort first. seq is taken from a sequence at
 * INSERT time. Writers of one aggregate serialize on the aggregate (its row lock or unique key —
 * a producer that lets two transactions write the same aggregate concurrently has no order to
 * preserve); the later writer inserts its outbox row only after it got the lock, i.e. after the
 * earlier one committed, so its seq is larger: per aggregate, seq order = commit order. (Across
 * aggregates seq may disagree with commit order — a row with a smaller seq can commit later —
 * which is harmless: no order is promised between aggregates, and nothing is skipped, since an
 * uncommitted row is simply claimed on a later pass.)
 *
 * The order is per destination: rows of the aggregate bound for other addresses neither block
 * nor are blocked (a row on an address nobody relays must not stop the aggregate everywhere).
 * Rows sent outside order (`ordered` false: scheduled or prioritised) neither block nor wait.
 *
 * Dead rows: with `deadBlocksAggregate` true (the service's default) a dead row counts as "still
 * unpublished" for the order check, so the aggregate stops at it: its later rows stay pending and
 * unclaimed, never reach the broker, and the receivers never see a version gap. The admin API lists
 * such aggregates (listBlockedAggregates) and releases one by retrying the dead row; it refuses to
 * delete it (deleteOutboxMessage). With false the dead row is parked and the later rows flow on,
 * which a receiver that applies versions in order refuses as gaps: order is traded for progress.
 *
 * Both forms of the check are anti-joins on the partial index outbox_messages_unpublished_aggregate_idx
 * (aggregate, seq where status in ('pending', 'dead')): a dead row costs the claim nothing extra.
 * The held rows themselves are read on every claim (they are pending, ahead in seq order) and
 * skipped, one index probe each; an aggregate holds back only the few updates written after its
 * dead row, so this stays small unless an operator leaves many aggregates blocked for long.
 */
export async function claimOutboxBatch(
  db: SqlDb,
  tables: OutboxTables,
  claim: ClaimRequest,
): Promise<ClaimedOutboxMessage[]> {
  const result = await db.execute<RawClaimedRow & Record<string, unknown>>(
    claimOutboxBatchQuery(tables, claim),
  );
  return result.rows
    .map((r): ClaimedOutboxMessage => ({
      id: r.id,
      seq: Number(r.seq),
      aggregateType: r.aggregate_type,
      aggregateId: r.aggregate_id,
      type: r.type,
      version: r.version,
      destination: r.destination,
      payload: r.payload,
      headers: r.headers ?? {},
      attempts: r.attempts,
      createdAt: new Date(r.created_at),
      priority: r.priority,
      deliverAt: r.deliver_at === null ? null : new Date(r.deliver_at),
      ordered: r.ordered,
      claimToken: r.claim_token,
    }))
    .sort((a, b) => a.seq - b.seq); // RETURNING has no order; the relay sends in claim order.
}

/** The claim statement (exported so tests can EXPLAIN it). */
export function claimOutboxBatchQuery(tables: OutboxTables, claim: ClaimRequest): SQL {
  const messages = tables.outboxMessages;
  // Two literal predicates (not a parameter) so the planner can match the partial index.
  const blocking = claim.deadBlocksAggregate
    ? sql`e.status in ('pending', 'dead')`
    : sql`e.status = 'pending'`;
  return sql`
    with due as (
      select m.id
        from ${messages} m
       where m.status = 'pending'
         and m.destination = ${claim.destination}
         and m.next_attempt_at <= now()
         and (m.locked_until is null or m.locked_until < now())
         and (not m.ordered or not exists (
               select 1 from ${messages} e
                where e.aggregate_type = m.aggregate_type
                  and e.aggregate_id = m.aggregate_id
                  and e.seq < m.seq
                  and e.destination = m.destination
                  and e.ordered
                  and ${blocking}))
       order by m.seq
       limit ${claim.limit}
         for update of m skip locked
    )
    update ${messages} o
       set locked_by = ${claim.owner},
           claim_token = ${randomUUID()}::uuid,
           locked_until = now() + ${claim.leaseMs} * interval '1 millisecond'
      from due
     where o.id = due.id
    returning o.id, o.seq, o.aggregate_type, o.aggregate_id, o.type, o.version, o.destination,
              o.payload, o.headers, o.attempts, o.created_at, o.priority, o.deliver_at, o.ordered,
              o.claim_token`;
}

/**
 * One parameter holding a PostgreSQL array literal (drizzle would expand a JS array into a row of
 * parameters). Only for values that need no quoting: UUIDs and ISO timestamps.
 */
function pgArray(values: readonly string[]): string {
  return `{${values.join(",")}}`;
}

/**
 * Locks a claim's pending rows in id order before a multi-row UPDATE: every such statement (the
 * relay's mark and release, the receipt batch) takes its locks in the same order, so they wait for
 * each other instead of deadlocking.
 */
function claimedRowsInIdOrder(tables: OutboxTables, ids: readonly string[], claimToken: string): SQL {
  return sql`
      select id from ${tables.outboxMessages}
       where id = any(${pgArray(ids)}::uuid[]) and claim_token = ${claimToken} and status = 'pending'
       order by id
         for update`;
}

// Every write below is fenced by `claim_token = <the claim's token> AND status = 'pending'`: if
// this claim's lease ran out and the row was claimed again (by another instance or another loop
// of this one), this claim's late word is ignored (the new claim resends; the broker drops the
// duplicate by _AMQ_DUPL_ID).
//
// Lock order: every statement that updates several outbox rows waiting for their locks (these, and
// the receipt consumer's markAllDelivered) locks them in id order first (SELECT ... ORDER BY id FOR
// UPDATE in a materialized CTE), then updates. Two such statements over the same rows then queue
// behind each other instead of deadlocking, whatever order their callers listed the rows in (the
// relay lists them in seq order, a receipt batch in the order the receiver applied them). The claim
// needs no order: SKIP LOCKED never waits.

/**
 * The broker accepted these messages (at the given times): they are published. Returns the
 * rows that changed, with their creation time, for the latency metric.
 */
export async function markPublished(
  db: SqlDb,
  tables: OutboxTables,
  claimToken: string,
  accepted: ReadonlyArray<{ id: string; at: Date }>,
): Promise<Array<{ id: string; createdAt: Date; publishedAt: Date }>> {
  if (accepted.length === 0) return [];
  const ids = accepted.map((a) => a.id);
  const times = accepted.map((a) => a.at.toISOString());
  const result = await db.execute<{ id: string; created_at: string | Date; published_at: string | Date }>(sql`
    with locked as materialized (${claimedRowsInIdOrder(tables, ids, claimToken)})
    update ${tables.outboxMessages} o
       set status = 'published', published_at = v.at, locked_by = null, locked_until = null,
           claim_token = null, last_error = null
      from locked, unnest(${pgArray(ids)}::uuid[], ${pgArray(times)}::timestamptz[]) as v(id, at)
     where o.id = locked.id and v.id = locked.id and o.claim_token = ${claimToken} and o.status = 'pending'
    returning o.id, o.created_at, o.published_at`);
  return result.rows.map((r) => ({
    id: r.id,
    createdAt: new Date(r.created_at),
    publishedAt: new Date(r.published_at),
  }));
}

/**
 * Give the rows back as they were, due at once, without counting an attempt. `sent`: they were
 * handed to the broker and the outcome is unknown (broker gone, link detached, timeout), so they
 * may be on the broker already (remembered in outcome_unknown, see scheduleRetry).
 */
export async function releaseClaims(
  db: SqlDb,
  tables: OutboxTables,
  claimToken: string,
  ids: string[],
  reason?: string,
  sent = true,
): Promise<number> {
  if (ids.length === 0) return 0;
  const result = await db.execute(sql`
    with locked as materialized (${claimedRowsInIdOrder(tables, ids, claimToken)})
    update ${tables.outboxMessages} o
       set locked_by = null, locked_until = null, claim_token = null,
           outcome_unknown = o.outcome_unknown or ${sent},
           last_error = coalesce(${reason ?? null}::text, o.last_error)
      from locked
     where o.id = locked.id and o.claim_token = ${claimToken} and o.status = 'pending'`);
  return result.rowCount ?? 0;
}

export interface RetryRequest {
  id: string;
  error: string;
  delayMs: number;
  countAttempt: boolean;
  /** What the broker answered (recorded in the history). */
  outcome: "rejected" | "released" | "modified";
}

/**
 * The broker refused the message: record why in its history and retry it after `delayMs`; when
 * the refusal counts and the attempts reach `maxAttempts`, the row goes `dead` instead (kept,
 * never retried by the relay, listed by the admin API). One statement, fenced like the others.
 *
 * A row possibly sent already (outcome_unknown: an earlier send's outcome was unknown, or an
 * earlier claim's lease lapsed unsettled, e.g. the relay crashed after the broker accepted) never
 * goes dead by a refusal: the first copy may be on the broker (and delivered), so the refusal of a
 * resend says nothing about the message. Its attempts are counted and each refusal recorded in its
 * history, and it is retried with the backoff until a send is accepted (then the broker drops the
 * duplicate) or the consumer's receipt marks it delivered. Making it dead instead would show a
 * delivered message as lost and let an operator delete it or release its aggregate's successors.
 */
export async function scheduleRetry(
  db: SqlDb,
  tables: OutboxTables,
  claim: { token: string; owner: string },
  retry: RetryRequest,
  maxAttempts: number,
): Promise<{ status: "pending" | "dead"; attempts: number } | undefined> {
  const increment = retry.countAttempt ? 1 : 0;
  const result = await db.execute<{ outcome: string; attempts: number }>(sql`
    with u as (
      update ${tables.outboxMessages}
         set locked_by = null, locked_until = null, last_error = ${retry.error},
             attempts = attempts + ${increment}::int,
             status = case when ${increment}::int = 1 and not outcome_unknown
                            and attempts + 1 >= ${maxAttempts}::int
                           then 'dead' else 'pending' end,
             claim_token = null,
             next_attempt_at = now() + ${retry.delayMs} * interval '1 millisecond'
       where id = ${retry.id} and claim_token = ${claim.token} and status = 'pending'
      returning id, attempts, status, ${claim.owner}::text as actor
    )
    insert into ${tables.outboxAttempts} (message_id, outcome, attempts, error, actor)
    select id, ${retry.outcome}, attempts, ${retry.error}, actor from u
    union all
    select id, 'dead', attempts, ${retry.error}, actor from u where status = 'dead'
    returning outcome, attempts`);
  if (result.rows.length === 0) return undefined;
  const dead = result.rows.some((r) => r.outcome === "dead");
  return { status: dead ? "dead" : "pending", attempts: result.rows[0]?.attempts ?? 0 };
}

/** Backlog figures for health and metrics; served by the partial pending index. */
export async function outboxBacklog(
  db: SqlDb,
  tables: OutboxTables,
): Promise<{ pending: number; oldestPendingAt: Date | null }> {
  const result = await db.execute<{ pending: number; oldest: string | Date | null }>(sql`
    select count(*)::int as pending, min(created_at) as oldest
      from ${tables.outboxMessages} where status = 'pending'`);
  const row = result.rows[0];
  return {
    pending: row?.pending ?? 0,
    oldestPendingAt: row?.oldest === null || row?.oldest === undefined ? null : new Date(row.oldest),
  };
}
