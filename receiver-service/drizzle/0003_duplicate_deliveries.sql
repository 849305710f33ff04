CREATE TABLE "duplicate_deliveries" (
	"id" serial PRIMARY KEY NOT NULL,
	"message_id" text NOT NULL,
	"consumer_group" text,
	"delivery_count" integer NOT NULL,
	"occurred_at" timestamp with time zone DEFAULT now() NOT NULL
);
