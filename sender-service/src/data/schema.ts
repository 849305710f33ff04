import { index, integer, jsonb, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { outbox } from "../messaging/outbox.js";

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
 * The outbox tables belong to @outbox/messaging (its SQL migrations own them); they are exported
 * here so that drizzle-kit keeps seeing them in this schema and never generates a migration that
 * drops them, and so that the admin queries read them typed.
 */
export const { outboxMessages, outboxAttempts } = outbox.tables;
export {
  outboxAttemptOutcomes,
  outboxStatuses,
  type OutboxAttemptOutcome,
  type OutboxHeaders,
  type OutboxStatus,
} from "@outbox/messaging";

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
export type { NewOutboxMessage, OutboxAttemptRow, OutboxMessageRow } from "@outbox/messaging";
