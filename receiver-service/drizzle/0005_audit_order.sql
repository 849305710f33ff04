-- The audit log keeps each aggregate's events in version order: the version each row brings,
-- filled in for the rows logged before (1 for a creation, the payload's version for an update).
ALTER TABLE "audit_log" ADD COLUMN "aggregate_version" integer;--> statement-breakpoint
UPDATE "audit_log" SET "aggregate_version" = CASE WHEN "type" = 'EntityItemUpdated' THEN ("payload"->>'version')::integer ELSE 1 END;--> statement-breakpoint
ALTER TABLE "audit_log" ALTER COLUMN "aggregate_version" SET NOT NULL;--> statement-breakpoint
-- A version logged twice (the same change under two message ids, before the order check): keep the
-- row recorded first (then the smallest message id), so that one row per version remains.
DELETE FROM "audit_log" AS a USING "audit_log" AS b WHERE a."aggregate_id" = b."aggregate_id" AND a."aggregate_version" = b."aggregate_version" AND (b."recorded_at", b."message_id") < (a."recorded_at", a."message_id");--> statement-breakpoint
-- The log's order. The rows logged before keep the slots they were recorded in (recorded_at
-- order), but each aggregate's slots go to its rows in version order: an update recorded before
-- its predecessor no longer comes first.
ALTER TABLE "audit_log" ADD COLUMN "position" bigserial NOT NULL;--> statement-breakpoint
WITH "slots" AS (SELECT "aggregate_id", row_number() OVER (ORDER BY "recorded_at", "message_id") AS n, row_number() OVER (PARTITION BY "aggregate_id" ORDER BY "recorded_at", "message_id") AS k FROM "audit_log"), "ranked" AS (SELECT "message_id", "aggregate_id", row_number() OVER (PARTITION BY "aggregate_id" ORDER BY "aggregate_version") AS k FROM "audit_log") UPDATE "audit_log" AS a SET "position" = s.n FROM "ranked" AS r JOIN "slots" AS s ON s."aggregate_id" = r."aggregate_id" AND s.k = r.k WHERE a."message_id" = r."message_id";--> statement-breakpoint
CREATE UNIQUE INDEX "audit_log_aggregate_version_key" ON "audit_log" USING btree ("aggregate_id","aggregate_version");
