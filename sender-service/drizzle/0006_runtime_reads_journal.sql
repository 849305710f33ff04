-- The service connects with a runtime role that cannot migrate; at start-up it only checks that
-- every migration it ships has been applied (the migrations step runs them as the owner). That
-- check reads drizzle's journal, so every role that may connect to this database may read it: it
-- holds migration hashes and times, nothing else. Until this migration is applied the check cannot
-- read the journal, which rightly says the schema is behind.
GRANT USAGE ON SCHEMA "drizzle" TO PUBLIC;--> statement-breakpoint
GRANT SELECT ON "drizzle"."__drizzle_migrations" TO PUBLIC;
