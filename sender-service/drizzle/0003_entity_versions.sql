ALTER TABLE "entity_items" ADD COLUMN "version" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "entity_items" ADD COLUMN "updated_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "idempotency_keys" ADD COLUMN "response_text" text;--> statement-breakpoint
ALTER TABLE "idempotency_keys" ADD COLUMN "etag" text;