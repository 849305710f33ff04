CREATE TABLE "audit_log" (
	"message_id" text PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"version" integer NOT NULL,
	"aggregate_id" text NOT NULL,
	"payload" jsonb NOT NULL,
	"recorded_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "delivery_failures" ADD COLUMN "consumer_group" text;--> statement-breakpoint
CREATE INDEX "audit_log_aggregate_idx" ON "audit_log" USING btree ("aggregate_id","recorded_at");