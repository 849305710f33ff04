import { and, asc, eq, inArray, isNull, lt, lte, or, sql } from "drizzle-orm";
import type { Queryable } from "./db.js";
import { outboxMessages, type NewOutboxMessage, type OutboxMessageRow } from "./schema.js";

/** What the relay needs of a claimed row. */
export type ClaimedOutboxMessage = Pick<
  OutboxMessageRow,
  | "id"
  | "aggregateType"
  | "aggregateId"
  | "type"
  | "version"
  | "destination"
  | "payload"
  | "headers"
  | "attempts"
  | "createdAt"
>;

export async function insertOutboxMessage(db: Queryable, message: NewOutboxMessage): Promise<void> {
  await db.insert(outboxMessages).values(message);
}

/**
 * Claims up to `limit` due pending rows for `owner` for `leaseMs`, oldest first. SKIP LOCKED
 * lets concurrent relays (other instances) claim disjoint batches without waiting on each
 * other; the lease (locked_until) lets rows of a crashed instance be claimed again once it runs out.
 * Only rows for `destination` (the address this relay's link is attached to) are claimed, so
 * a row is never sent anywhere else. Returned in claim order (created_at, id).
 */
export async function claimOutboxBatch(
  db: Queryable,
  claim: { owner: string; destination: string; limit: number; leaseMs: number },
): Promise<ClaimedOutboxMessage[]> {
  const due = db
    .select({ id: outboxMessages.id })
    .from(outboxMessages)
    .where(
      and(
        eq(outboxMessages.status, "pending"),
        eq(outboxMessages.destination, claim.destination),
        lte(outboxMessages.nextAttemptAt, sql`now()`),
        or(isNull(outboxMessages.lockedUntil), lt(outboxMessages.lockedUntil, sql`now()`)),
      ),
    )
    .orderBy(asc(outboxMessages.createdAt), asc(outboxMessages.id))
    .limit(claim.limit)
    .for("update", { skipLocked: true });
  const rows = await db
    .update(outboxMessages)
    .set({
      lockedBy: claim.owner,
      lockedUntil: sql`now() + ${claim.leaseMs} * interval '1 millisecond'`,
    })
    .where(inArray(outboxMessages.id, due))
    .returning({
      id: outboxMessages.id,
      aggregateType: outboxMessages.aggregateType,
      aggregateId: outboxMessages.aggregateId,
      type: outboxMessages.type,
      version: outboxMessages.version,
      destination: outboxMessages.destination,
      payload: outboxMessages.payload,
      headers: outboxMessages.headers,
      attempts: outboxMessages.attempts,
      createdAt: outboxMessages.createdAt,
    });
  // RETURNING has no order; the relay sends in claim order.
  return rows.sort(
    (a, b) => a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
}

// Every write below is fenced by `locked_by = owner AND status = 'pending'`: if this instance
// lost its lease and another one claimed the row, this instance's late word is ignored (the
// other one resends; the broker drops the duplicate by _AMQ_DUPL_ID).
const ownedPending = (owner: string, ids: string[]) =>
  and(
    inArray(outboxMessages.id, ids),
    eq(outboxMessages.lockedBy, owner),
    eq(outboxMessages.status, "pending"),
  );

/** The broker accepted these messages: they are published. Returns how many rows changed. */
export async function markPublished(db: Queryable, owner: string, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const rows = await db
    .update(outboxMessages)
    .set({ status: "published", publishedAt: sql`now()`, lockedBy: null, lockedUntil: null, lastError: null })
    .where(ownedPending(owner, ids))
    .returning({ id: outboxMessages.id });
  return rows.length;
}

/**
 * The outcome of these sends is unknown (broker gone, link detached, timeout): give the rows
 * back as they were, due at once, without counting an attempt.
 */
export async function releaseClaims(
  db: Queryable,
  owner: string,
  ids: string[],
  reason?: string,
): Promise<number> {
  if (ids.length === 0) return 0;
  const rows = await db
    .update(outboxMessages)
    .set({ lockedBy: null, lockedUntil: null, ...(reason === undefined ? {} : { lastError: reason }) })
    .where(ownedPending(owner, ids))
    .returning({ id: outboxMessages.id });
  return rows.length;
}

/** The broker refused the message: retry it later, recording why. */
export async function scheduleRetry(
  db: Queryable,
  owner: string,
  retry: { id: string; error: string; delayMs: number; countAttempt: boolean },
): Promise<number> {
  const rows = await db
    .update(outboxMessages)
    .set({
      lockedBy: null,
      lockedUntil: null,
      lastError: retry.error,
      nextAttemptAt: sql`now() + ${retry.delayMs} * interval '1 millisecond'`,
      attempts: retry.countAttempt ? sql`${outboxMessages.attempts} + 1` : outboxMessages.attempts,
    })
    .where(ownedPending(owner, [retry.id]))
    .returning({ id: outboxMessages.id });
  return rows.length;
}

/** Backlog figures for health and metrics; served by the partial pending index. */
export async function outboxBacklog(
  db: Queryable,
): Promise<{ pending: number; oldestPendingAt: Date | null }> {
  const [row] = await db
    .select({
      pending: sql<number>`count(*)::int`,
      oldestPendingAt: sql<Date | null>`min(${outboxMessages.createdAt})`.mapWith(
        (v: string | Date | null) => (v === null ? null : new Date(v)),
      ),
    })
    .from(outboxMessages)
    .where(eq(outboxMessages.status, "pending"));
  return { pending: row?.pending ?? 0, oldestPendingAt: row?.oldestPendingAt ?? null };
}
