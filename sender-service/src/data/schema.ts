import { sql } from "drizzle-orm";
import {
  bigserial,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  smallint,
  text,
  timestamp,
  uuid,
} from "drizzle-orm/pg-core";

/** The business table: what the API writes and reads. */
export const entityItems = pgTable(
  "entity_items",
  {
    id: uuid("id").primaryKey(),
    name: text("name").notNull(),
    description: text("description"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    /**
     * Aggregate version: 1 at creation, +1 per update (the ETag, and what EntityItemUpdated carries
     * so the receiver can apply updates in order, never skipping one).
     */
    version: integer("version").notNull().default(1),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }),
  },
  // Serves the list endpoint (newest first) without a sort over the whole table.
  (t) => [index("entity_items_created_at_idx").on(t.createdAt.desc(), t.id.desc())],
);

/**
 * pending → published (broker accepted) → delivered (the consumer's receipt came back); dead = gave
 * up (a receipt still makes a dead row delivered: it is proof of delivery).
 */
export const outboxStatuses = ["pending", "published", "delivered", "dead"] as const;
export type OutboxStatus = (typeof outboxStatuses)[number];

/** Headers carried from the write to the AMQP message (W3C trace context for now). */
export type OutboxHeaders = { traceparent?: string; tracestate?: string };

/**
 * The transactional outbox: one row per integration event, written in the same transaction
 * as the business change and published by the relay (src/messaging/outbox-relay.ts).
 */
export const outboxMessages = pgTable(
  "outbox_messages",
  {
    id: uuid("id").primaryKey(), // UUIDv7: time ordered, also the AMQP message id and _AMQ_DUPL_ID
    /**
     * Insert order, the relay's ordering key (see claimOutboxBatch in data/outbox.ts for why a
     * sequence value taken at INSERT time gives per-aggregate commit order and created_at does not).
     */
    seq: bigserial("seq", { mode: "number" }).notNull(),
    aggregateType: text("aggregate_type").notNull(),
    aggregateId: text("aggregate_id").notNull(),
    type: text("type").notNull(),
    version: integer("version").notNull(),
    destination: text("destination").notNull(),
    payload: jsonb("payload").$type<unknown>().notNull(),
    headers: jsonb("headers").$type<OutboxHeaders>().notNull().default({}),
    status: text("status").$type<OutboxStatus>().notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: timestamp("next_attempt_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    lockedBy: text("locked_by"),
    /**
     * Fences every write of the relay: a fresh token per claim (not per process), so a stale
     * outcome of one claim can never release, publish or fail a later claim of the same row, even
     * by another loop of the same instance.
     */
    claimToken: uuid("claim_token"),
    /**
     * Possibly sent: an earlier send's outcome was unknown (timeout, connection lost), or an earlier
     * claim's lease lapsed unsettled (set by a trigger when a claim takes over such a row, see
     * drizzle/0005_possibly_sent.sql). The message may already be on the broker (and delivered),
     * so a later refusal of a resend is not a refusal of the message and never makes it dead (it
     * is retried until a send is accepted or the consumer's receipt marks it delivered).
     */
    outcomeUnknown: boolean("outcome_unknown").notNull().default(false),
    /**
     * false: the producer asked for scheduled delivery or a priority, which the broker orders by
     * time/priority, not by aggregate. Such a row is sent without group_id, outside per-aggregate
     * order (it neither waits for nor holds back its aggregate's other rows).
     */
    ordered: boolean("ordered").notNull().default(true),
    lockedUntil: timestamp("locked_until", { withTimezone: true, mode: "date" }),
    lastError: text("last_error"),
    /**
     * Insert time (clock_timestamp(), not now() = the transaction's start): the closest point to the
     * commit that is known, so created_at → published_at measures commit → accepted.
     */
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" })
      .notNull()
      .default(sql`clock_timestamp()`),
    publishedAt: timestamp("published_at", { withTimezone: true, mode: "date" }),
    /** Set when the consumer's delivery receipt arrives (end-to-end confirmation). */
    deliveredAt: timestamp("delivered_at", { withTimezone: true, mode: "date" }),
    /** AMQP priority 0..9 (4 = AMQP default). */
    priority: smallint("priority").notNull().default(4),
    /** Scheduled delivery: the broker holds the message until then (`x-opt-delivery-time`). */
    deliverAt: timestamp("deliver_at", { withTimezone: true, mode: "date" }),
  },
  (t) => [
    check("outbox_messages_status_check", sql`${t.status} in ('pending', 'published', 'delivered', 'dead')`),
    check("outbox_messages_priority_check", sql`${t.priority} between 0 and 9`),
    // Partial index in claim order: the claim query reads pending rows in seq order with a
    // LIMIT, and pending rows stay few while published ones pile up until purged, so claiming
    // costs the same with a million published rows as with none. Rows backing off
    // (next_attempt_at in the future) are filtered on the way, they are rare.
    index("outbox_messages_pending_seq_idx")
      .on(t.seq)
      .where(sql`${t.status} = 'pending'`),
    // "Is an earlier row of this aggregate still unpublished?" (the per-aggregate order check of
    // every claim) and the dead rows that may block their aggregate: both small, both partial.
    index("outbox_messages_unpublished_aggregate_idx")
      .on(t.aggregateType, t.aggregateId, t.seq)
      .where(sql`${t.status} in ('pending', 'dead')`),
    // Retention deletes the oldest finished rows in small batches.
    index("outbox_messages_finished_at_idx")
      .on(t.publishedAt)
      .where(sql`${t.status} in ('published', 'delivered')`),
    // Admin listing of dead rows (pending ones use the pending index, finished ones the one above).
    index("outbox_messages_dead_seq_idx")
      .on(t.seq)
      .where(sql`${t.status} = 'dead'`),
  ],
);

/** What happened to an outbox message besides "published": failed sends and operator actions. */
export const outboxAttemptOutcomes = [
  "rejected",
  "released",
  "modified",
  "dead",
  "retried-by-operator",
] as const;
export type OutboxAttemptOutcome = (typeof outboxAttemptOutcomes)[number];

/**
 * History of an outbox message (GET /api/outbox/messages/{id}). Accepted sends are not recorded
 * here (published_at on the message says it all, and a row per publish would double the write
 * cost of the hot path); every refusal, the move to dead and operator retries are.
 */
export const outboxAttempts = pgTable(
  "outbox_attempts",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    messageId: uuid("message_id")
      .notNull()
      .references(() => outboxMessages.id, { onDelete: "cascade" }),
    at: timestamp("at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    outcome: text("outcome").$type<OutboxAttemptOutcome>().notNull(),
    /** The attempts counter after this event. */
    attempts: integer("attempts").notNull(),
    error: text("error"),
    /** Relay instance (locked_by) or "admin". */
    actor: text("actor").notNull(),
  },
  (t) => [index("outbox_attempts_message_idx").on(t.messageId, t.id)],
);

/**
 * Idempotency-Key store for POST /api/EntityItems: a retry with the same key and body gets the
 * original response back instead of creating a second entity.
 */
export const idempotencyKeys = pgTable(
  "idempotency_keys",
  {
    key: text("key").primaryKey(),
    /** SHA-256 of the canonical request body: the same key with another body is refused (422). */
    requestHash: text("request_hash").notNull(),
    statusCode: integer("status_code").notNull(),
    responseBody: jsonb("response_body").$type<unknown>().notNull(),
    /**
     * The response body exactly as sent (jsonb reorders keys and drops whitespace, so a replay
     * from response_body is not byte-identical). Null for keys stored before this column existed.
     */
    responseText: text("response_text"),
    location: text("location"),
    /** ETag of the response (updates), so a replay carries it too. */
    etag: text("etag"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (t) => [index("idempotency_keys_expires_at_idx").on(t.expiresAt)],
);

export type EntityItemRow = typeof entityItems.$inferSelect;
export type OutboxMessageRow = typeof outboxMessages.$inferSelect;
export type NewOutboxMessage = typeof outboxMessages.$inferInsert;
export type OutboxAttemptRow = typeof outboxAttempts.$inferSelect;
