CREATE TABLE "received_item_versions" (
	"entity_id" uuid NOT NULL,
	"version" integer NOT NULL,
	"message_id" text NOT NULL,
	"seq" bigserial NOT NULL,
	"applied_at" timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
	CONSTRAINT "received_item_versions_pkey" PRIMARY KEY("entity_id","version")
);
--> statement-breakpoint
ALTER TABLE "received_items" ADD COLUMN "version" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "received_items" ADD COLUMN "source_updated_at" timestamp with time zone;