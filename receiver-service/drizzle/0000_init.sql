CREATE TABLE "delivery_failures" (
	"id" serial PRIMARY KEY NOT NULL,
	"message_id" text,
	"attempt" integer NOT NULL,
	"kind" text NOT NULL,
	"error" text NOT NULL,
	"occurred_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "delivery_failures_kind_check" CHECK ("delivery_failures"."kind" in ('transient', 'poison'))
);
--> statement-breakpoint
CREATE TABLE "inbox" (
	"message_id" text PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"version" integer NOT NULL,
	"aggregate_id" text NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"processed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "received_items" (
	"id" uuid PRIMARY KEY NOT NULL,
	"message_id" text NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"source_created_at" timestamp with time zone NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "received_items_message_id_key" UNIQUE("message_id")
);
--> statement-breakpoint
ALTER TABLE "received_items" ADD CONSTRAINT "received_items_message_id_inbox_message_id_fk" FOREIGN KEY ("message_id") REFERENCES "public"."inbox"("message_id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "delivery_failures_message_id_idx" ON "delivery_failures" USING btree ("message_id");--> statement-breakpoint
CREATE INDEX "delivery_failures_occurred_at_idx" ON "delivery_failures" USING btree ("occurred_at");--> statement-breakpoint
CREATE INDEX "received_items_received_at_idx" ON "received_items" USING btree ("received_at" DESC NULLS LAST,"id" DESC NULLS LAST);