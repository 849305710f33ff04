import { sql } from "drizzle-orm";
import {
  bigserial,
  boolean,
  check,
  foreignKey,
  index,
  integer,
  jsonb,
  pgSchema,
  pgTable,
  smallint,
  text,
  timestamp,
  uuid,
} from "drizzle-orm/pg-core";
import { prefixedName, validateSchemaNames, type SchemaNames } from "../schema/identifiers.js";

/**
 * pending → published (broker accepted) → delivered (the consumer's receipt came back); dead = gave
 * up (a receipt still makes a dead row delivered: it is proof of delivery).
 */
export const outboxStatuses = ["pending", "published", "delivered", "dead"] as const;
export type OutboxStatus = (typeof outboxStatuses)[number];

/** Headers carried from the write to the message (W3C trace context). */
export type OutboxHeaders = { traceparent?: string; tracestate?: string };

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
 * The drizzle objects of the outbox tables, for the chosen schema and prefix. They describe what
 * messaging/migrations/outbox/*.sql creates (the migrations, not drizzle-kit, own the schema): for
 * admin queries, drizzle-kit snapshots of a host schema, and typed rows.
 */
export function outboxTables(names: Partial<SchemaNames> = {}) {
  const { schema, tablePrefix } = validateSchemaNames({
    schema: names.schema ?? "public",
    tablePrefix: names.tablePrefix ?? "",
  });
  const name = (base: string): string => prefixedName(tablePrefix, base);
  // drizzle refuses pgSchema("public"): tables of the default schema are plain pgTable ones. The
  // two differ in their types only by the schema name, which nothing here reads.
  const table = schema === "public" ? pgTable : (pgSchema(schema).table as unknown as typeof pgTable);

  const outboxMessages = table(
    name("outbox_messages"),
    {
      id: uuid("id").primaryKey(), // UUIDv7: time ordered, also the message id and the duplicate id
      /** Insert order, the relay's ordering key (see claimOutboxBatch in relay-statements.ts). */
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
      nextAttemptAt: timestamp("next_attempt_at", { withTimezone: true, mode: "date" })
        .notNull()
        .defaultNow(),
      lockedBy: text("locked_by"),
      /** Fences every write of the relay: a fresh token per claim (not per process). */
      claimToken: uuid("claim_token"),
      /**
       * Possibly sent: an earlier send's outcome was unknown, or an earlier claim's lease lapsed
       * unsettled (set by a trigger, see migrations/outbox/0001_outbox.sql). A later refusal of a
       * resend never makes such a row dead.
       */
      outcomeUnknown: boolean("outcome_unknown").notNull().default(false),
      /** false: scheduled or prioritised, sent outside per-key order (no message group). */
      ordered: boolean("ordered").notNull().default(true),
      lockedUntil: timestamp("locked_until", { withTimezone: true, mode: "date" }),
      lastError: text("last_error"),
      /** Insert time (clock_timestamp()): the closest known point to the commit. */
      createdAt: timestamp("created_at", { withTimezone: true, mode: "date" })
        .notNull()
        .default(sql`clock_timestamp()`),
      publishedAt: timestamp("published_at", { withTimezone: true, mode: "date" }),
      /** Set when the consumer's delivery receipt arrives (end-to-end confirmation). */
      deliveredAt: timestamp("delivered_at", { withTimezone: true, mode: "date" }),
      /** Priority 0..9 (4 = the AMQP default). */
      priority: smallint("priority").notNull().default(4),
      /** Scheduled delivery: the broker holds the message until then. */
      deliverAt: timestamp("deliver_at", { withTimezone: true, mode: "date" }),
    },
    (t) => [
      check(
        name("outbox_messages_status_check"),
        sql`${t.status} in ('pending', 'published', 'delivered', 'dead')`,
      ),
      check(name("outbox_messages_priority_check"), sql`${t.priority} between 0 and 9`),
      // Claim order over pending rows only (see the migration for why each index exists).
      index(name("outbox_messages_pending_seq_idx"))
        .on(t.seq)
        .where(sql`${t.status} = 'pending'`),
      index(name("outbox_messages_unpublished_aggregate_idx"))
        .on(t.aggregateType, t.aggregateId, t.seq)
        .where(sql`${t.status} in ('pending', 'dead')`),
      index(name("outbox_messages_finished_at_idx"))
        .on(t.publishedAt)
        .where(sql`${t.status} in ('published', 'delivered')`),
      index(name("outbox_messages_dead_seq_idx"))
        .on(t.seq)
        .where(sql`${t.status} = 'dead'`),
    ],
  );

  /**
   * History of an outbox message: every refusal, the move to dead and operator retries. Accepted
   * sends are not recorded (published_at says it, and a row per publish would double the hot path).
   */
  const outboxAttempts = table(
    name("outbox_attempts"),
    {
      id: bigserial("id", { mode: "number" }).primaryKey(),
      messageId: uuid("message_id").notNull(),
      at: timestamp("at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
      outcome: text("outcome").$type<OutboxAttemptOutcome>().notNull(),
      /** The attempts counter after this event. */
      attempts: integer("attempts").notNull(),
      error: text("error"),
      /** Relay instance (locked_by) or "admin". */
      actor: text("actor").notNull(),
    },
    (t) => [
      foreignKey({
        name: name("outbox_attempts_message_id_outbox_messages_id_fk"),
        columns: [t.messageId],
        foreignColumns: [outboxMessages.id],
      }).onDelete("cascade"),
      index(name("outbox_attempts_message_idx")).on(t.messageId, t.id),
    ],
  );

  return { outboxMessages, outboxAttempts };
}

export type OutboxTables = ReturnType<typeof outboxTables>;
export type OutboxMessageRow = OutboxTables["outboxMessages"]["$inferSelect"];
export type NewOutboxMessage = OutboxTables["outboxMessages"]["$inferInsert"];
export type OutboxAttemptRow = OutboxTables["outboxAttempts"]["$inferSelect"];
