import { sql } from "drizzle-orm";
import {
  bigserial,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  serial,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";

/**
 * The idempotency key store of @outbox/messaging's inbox: one row per (consumer group, message id)
 * processed. Its shape is the library's (messaging/migrations/inbox/, applied after the migrations
 * here by runMigrations, which upgraded the receiver's single-group table in place); declared here
 * for reads. The drizzle snapshots still hold the old shape: a `drizzle-kit generate` writes that
 * difference too, and it must be removed from the generated file (the library's SQL made it).
 */
export const inbox = pgTable(
  "inbox",
  {
    consumerGroup: text("consumer_group").notNull(),
    // text, not uuid: the key is whatever the producer put in AMQP message_id (our sender uses UUIDv7).
    messageId: text("message_id").notNull(),
    type: text("type").notNull(),
    version: integer("version").notNull(),
    aggregateId: text("aggregate_id"),
    receivedAt: timestamp("received_at", { withTimezone: true }).notNull().defaultNow(),
    processedAt: timestamp("processed_at", { withTimezone: true }),
  },
  (t) => [
    primaryKey({ name: "inbox_pkey", columns: [t.consumerGroup, t.messageId] }),
    // The library's retention job deletes the oldest rows first.
    index("inbox_received_at_idx").on(t.receivedAt),
  ],
);

/** The effect of EntityItemCreated: the receiver's own copy of each entity. */
export const receivedItems = pgTable(
  "received_items",
  {
    id: uuid("id").primaryKey(),
    // No foreign key to inbox: inbox rows are pruned after the retention window, the effect stays.
    messageId: text("message_id").notNull().unique("received_items_message_id_key"),
    name: text("name").notNull(),
    description: text("description"),
    sourceCreatedAt: timestamp("source_created_at", { withTimezone: true }).notNull(),
    receivedAt: timestamp("received_at", { withTimezone: true }).notNull().defaultNow(),
    /** The aggregate version applied: 1 from EntityItemCreated, then +1 per EntityItemUpdated. */
    version: integer("version").notNull().default(1),
    sourceUpdatedAt: timestamp("source_updated_at", { withTimezone: true }),
  },
  // The list endpoint pages newest first.
  (t) => [index("received_items_received_at_idx").on(t.receivedAt.desc(), t.id.desc())],
);

/**
 * Every version applied to an entity copy, in the order applied (seq): the proof that versions are
 * applied once each (primary key), in order and without gaps (seq order = version order).
 */
export const receivedItemVersions = pgTable(
  "received_item_versions",
  {
    entityId: uuid("entity_id").notNull(),
    version: integer("version").notNull(),
    messageId: text("message_id").notNull(),
    seq: bigserial("seq", { mode: "number" }).notNull(),
    appliedAt: timestamp("applied_at", { withTimezone: true })
      .notNull()
      .default(sql`clock_timestamp()`),
  },
  (t) => [primaryKey({ name: "received_item_versions_pkey", columns: [t.entityId, t.version] })],
);

/**
 * Deliveries whose message id was already in the inbox (skipped). delivery_count 0 means the broker
 * delivered a second COPY of the message (a duplicate on the queue); more than 0 is a redelivery
 * the broker knows of (e.g. an accept lost to a reconnect). Counted by the chaos soak.
 */
export const duplicateDeliveries = pgTable("duplicate_deliveries", {
  id: serial("id").primaryKey(),
  messageId: text("message_id").notNull(),
  consumerGroup: text("consumer_group"),
  deliveryCount: integer("delivery_count").notNull(),
  occurredAt: timestamp("occurred_at", { withTimezone: true }).notNull().defaultNow(),
});

/** Failed processing attempts, kept so redeliveries and dead-lettering are visible. */
export const deliveryFailures = pgTable(
  "delivery_failures",
  {
    id: serial("id").primaryKey(),
    // Nullable: a poison message may have no usable message id at all.
    messageId: text("message_id"),
    /** The consumer group that failed (null: recorded before groups existed). */
    consumerGroup: text("consumer_group"),
    attempt: integer("attempt").notNull(),
    kind: text("kind", { enum: ["transient", "poison"] }).notNull(),
    error: text("error").notNull(),
    occurredAt: timestamp("occurred_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    check("delivery_failures_kind_check", sql`${t.kind} in ('transient', 'poison')`),
    index("delivery_failures_message_id_idx").on(t.messageId),
    index("delivery_failures_occurred_at_idx").on(t.occurredAt),
  ],
);

/**
 * The audit projection (consumer group "audit"): one row per message it ever received, each
 * aggregate's rows in version order. The primary key is its inbox and the row is its effect, so
 * one INSERT is both, atomically.
 */
export const auditLog = pgTable(
  "audit_log",
  {
    messageId: text("message_id").primaryKey(),
    type: text("type").notNull(),
    /** The message's schema version (as in the inbox). */
    version: integer("version").notNull(),
    aggregateId: text("aggregate_id").notNull(),
    /** The aggregate version the event brings (1 for the creation): logged only on top of the previous one. */
    aggregateVersion: integer("aggregate_version").notNull(),
    /** The log's order: numbered as rows are appended. */
    position: bigserial("position", { mode: "number" }).notNull(),
    /** The event as applied (upcast to the current version). */
    payload: jsonb("payload").$type<unknown>().notNull(),
    recordedAt: timestamp("recorded_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index("audit_log_aggregate_idx").on(t.aggregateId, t.recordedAt),
    // One entry per aggregate version: also what makes "the latest version" a cheap index lookup.
    uniqueIndex("audit_log_aggregate_version_key").on(t.aggregateId, t.aggregateVersion),
  ],
);

export type ReceivedItemRow = typeof receivedItems.$inferSelect;
export type DeliveryFailureKind = (typeof deliveryFailures.$inferInsert)["kind"];
