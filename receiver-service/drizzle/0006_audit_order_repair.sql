-- Databases that ran 0005 before it ordered each aggregate by version numbered the older rows in
-- recorded_at order, so an update recorded before its predecessor can still come first there, and
-- drizzle never runs an edited 0005 again. Each aggregate keeps the positions it holds, given to
-- its rows in version order (one row per version: the unique index). Changes nothing in a log that
-- is already in order, so it is safe everywhere.
WITH "slots" AS (SELECT "aggregate_id", "position", row_number() OVER (PARTITION BY "aggregate_id" ORDER BY "position") AS k FROM "audit_log"), "ranked" AS (SELECT "message_id", "aggregate_id", row_number() OVER (PARTITION BY "aggregate_id" ORDER BY "aggregate_version") AS k FROM "audit_log") UPDATE "audit_log" AS a SET "position" = s."position" FROM "ranked" AS r JOIN "slots" AS s ON s."aggregate_id" = r."aggregate_id" AND s.k = r.k WHERE a."message_id" = r."message_id" AND a."position" <> s."position";
