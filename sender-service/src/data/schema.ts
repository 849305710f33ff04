import { sql } from "drizzle-orm";
import { check, index, integer, jsonb, pgTable, smallint, text, timestamp, uuid } from "drizzle-orm/pg-core";

/** The business table: what the API writes and reads. */
export const entityItems = pgTable(
  "entity_items",
  {
    id: uuid("id").primaryKey(),
    name: text("name").notNull(),
    description: text("description"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  // Serves the list endpoint (newest first) without a sort over the whole table.
  (t) => [index("entity_items_created_at_idx").on(t.createdAt.desc(), t.id.desc())],
);

/** pending → published (broker accepted) → delivered (the consumer's receipt came back); dead = gave up. */
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
    lockedUntil: timestamp("locked_until", { withTimezone: true, mode: "date" }),
    lastError: text("last_error"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
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
    // Partial index in claim order: the claim query reads pending rows oldest first with a
    // LIMIT, and pending rows stay few while published ones pile up until purged. Rows backing
    // off (next_attempt_at in the future) are filtered on the way, they are rare.
    index("outbox_messages_pending_idx")
      .on(t.createdAt, t.id)
      .where(sql`${t.status} = 'pending'`),
  ],
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
    location: text("location"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (t) => [index("idempotency_keys_expires_at_idx").on(t.expiresAt)],
);

export type EntityItemRow = typeof entityItems.$inferSelect;
export type OutboxMessageRow = typeof outboxMessages.$inferSelect;
export type NewOutboxMessage = typeof outboxMessages.$inferInsert;
