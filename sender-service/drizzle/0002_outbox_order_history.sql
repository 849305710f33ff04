CREATE TABLE "outbox_attempts" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"message_id" uuid NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"outcome" text NOT NULL,
	"attempts" integer NOT NULL,
	"error" text,
	"actor" text NOT NULL
);
--> statement-breakpoint
DROP INDEX "outbox_messages_pending_idx";--> statement-breakpoint
ALTER TABLE "outbox_messages" ALTER COLUMN "created_at" SET DEFAULT clock_timestamp();--> statement-breakpoint
ALTER TABLE "outbox_messages" ADD COLUMN "seq" bigserial NOT NULL;--> statement-breakpoint
ALTER TABLE "outbox_attempts" ADD CONSTRAINT "outbox_attempts_message_id_outbox_messages_id_fk" FOREIGN KEY ("message_id") REFERENCES "public"."outbox_messages"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "outbox_attempts_message_idx" ON "outbox_attempts" USING btree ("message_id","id");--> statement-breakpoint
CREATE INDEX "outbox_messages_pending_seq_idx" ON "outbox_messages" USING btree ("seq") WHERE "outbox_messages"."status" = 'pending';--> statement-breakpoint
CREATE INDEX "outbox_messages_unpublished_aggregate_idx" ON "outbox_messages" USING btree ("aggregate_type","aggregate_id","seq") WHERE "outbox_messages"."status" in ('pending', 'dead');--> statement-breakpoint
CREATE INDEX "outbox_messages_finished_at_idx" ON "outbox_messages" USING btree ("published_at") WHERE "outbox_messages"."status" in ('published', 'delivered');--> statement-breakpoint
CREATE INDEX "outbox_messages_dead_seq_idx" ON "outbox_messages" USING btree ("seq") WHERE "outbox_messages"."status" = 'dead';