ALTER TABLE "outbox_messages" ADD COLUMN "claim_token" uuid;--> statement-breakpoint
ALTER TABLE "outbox_messages" ADD COLUMN "outcome_unknown" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "outbox_messages" ADD COLUMN "ordered" boolean DEFAULT true NOT NULL;