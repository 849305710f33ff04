-- The audit log keeps each aggregate's events in version order: the version each row brings,
-- filled in for the rows logged before (1 for a creation, the payload's version for an update).
ALTER TABLE "audit_log" ADD COLUMN "aggregate_version" integer;--> statement-breakpoint
UPDATE "audit_log" SET "aggregate_version" = CASE WHEN "type" = 'EntityItemUpdated' THEN ("payload"->>'version')::integer ELSE 1 END;--> statement-breakpoint
ALTER TABLE "audit_log" ALTER COLUMN "aggregate_version" SET NOT NULL;--> statement-breakpoint
-- The log's order; the rows logged before are numbered in the order they were recorded.
ALTER TABLE "audit_log" ADD COLUMN "position" bigserial NOT NULL;--> statement-breakpoint
UPDATE "audit_log" AS a SET "position" = o.n FROM (SELECT "message_id", row_number() OVER (ORDER BY "recorded_at", "message_id") AS n FROM "audit_log") AS o WHERE a."message_id" = o."message_id";--> statement-breakpoint
CREATE UNIQUE INDEX "audit_log_aggregate_version_key" ON "audit_log" USING btree ("aggregate_id","aggregate_version");
