-- A claim that takes over a row whose previous claim was never settled (its lease lapsed: the relay
-- crashed or stalled, maybe after the broker accepted the send and before the mark) marks the row
-- possibly sent (outcome_unknown), so that a refusal of the resend never makes it dead
-- (scheduleRetry). Every settlement (published, released, retried, delivered) clears claim_token,
-- so a token still set when a new one is written means exactly that: an unsettled earlier claim.
-- In the database rather than in the claim statement, so that every claim statement gets it.
CREATE FUNCTION outbox_mark_possibly_sent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.outcome_unknown := true;
  RETURN NEW;
END
$$;--> statement-breakpoint
CREATE TRIGGER outbox_messages_reclaimed_after_lapsed_lease
  BEFORE UPDATE OF claim_token ON outbox_messages
  FOR EACH ROW
  WHEN (OLD.claim_token IS NOT NULL AND NEW.claim_token IS NOT NULL
        AND NEW.claim_token IS DISTINCT FROM OLD.claim_token)
  EXECUTE FUNCTION outbox_mark_possibly_sent();
