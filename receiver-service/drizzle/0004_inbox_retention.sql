ALTER TABLE "received_items" DROP CONSTRAINT "received_items_message_id_inbox_message_id_fk";
--> statement-breakpoint
CREATE INDEX "inbox_received_at_idx" ON "inbox" USING btree ("received_at");