-- The transactional outbox of @outbox/messaging: one row per message, written in the producer's
-- transaction and published by the relay; plus the history of refusals and operator actions.
--
-- Placeholders: the schema and the table prefix, in the dollar-brace syntax Flyway and Liquibase
-- substitute. The library's migrate() substitutes quoted identifiers and records this file in its
-- journal table, messaging_migrations (prefixed, in the same schema).
--
-- Idempotent on purpose: with schema public and an empty prefix these are exactly the tables the
-- sender-service's drizzle migrations 0000–0006 created, so this file applies cleanly on such a
-- database and changes nothing there. Columns are listed in the order those migrations added them.

CREATE TABLE IF NOT EXISTS ${schema}.${prefix}outbox_messages (
  id uuid PRIMARY KEY NOT NULL,
  aggregate_type text NOT NULL,
  aggregate_id text NOT NULL,
  type text NOT NULL,
  version integer NOT NULL,
  destination text NOT NULL,
  payload jsonb NOT NULL,
  -- W3C trace context of the write, carried to the message.
  headers jsonb DEFAULT '{}'::jsonb NOT NULL,
  -- pending → published (broker accepted) → delivered (receipt came back); dead = gave up.
  status text DEFAULT 'pending' NOT NULL,
  attempts integer DEFAULT 0 NOT NULL,
  next_attempt_at timestamp with time zone DEFAULT now() NOT NULL,
  locked_by text,
  locked_until timestamp with time zone,
  last_error text,
  -- Insert time (clock_timestamp(), not the transaction's start): closest known point to the commit.
  created_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
  published_at timestamp with time zone,
  delivered_at timestamp with time zone,
  -- AMQP priority 0..9 (4 = the default).
  priority smallint DEFAULT 4 NOT NULL,
  -- Scheduled delivery: the broker holds the message until then.
  deliver_at timestamp with time zone,
  -- Insert order: the relay's per-key ordering (a sequence value taken at INSERT, see the claim).
  seq bigserial NOT NULL,
  -- Fences every write of the relay: fresh per claim.
  claim_token uuid,
  -- Possibly sent already: a refusal of a resend never makes the row dead.
  outcome_unknown boolean DEFAULT false NOT NULL,
  -- false: scheduled or prioritised, sent outside per-key order.
  ordered boolean DEFAULT true NOT NULL,
  CONSTRAINT ${prefix}outbox_messages_status_check CHECK (status in ('pending', 'published', 'delivered', 'dead')),
  CONSTRAINT ${prefix}outbox_messages_priority_check CHECK (priority between 0 and 9)
);

-- Claim order over pending rows only: claiming costs the same with a million published rows.
CREATE INDEX IF NOT EXISTS ${prefix}outbox_messages_pending_seq_idx
  ON ${schema}.${prefix}outbox_messages USING btree (seq) WHERE status = 'pending';
-- The per-key order check of every claim, and the dead rows that may block their key.
CREATE INDEX IF NOT EXISTS ${prefix}outbox_messages_unpublished_aggregate_idx
  ON ${schema}.${prefix}outbox_messages USING btree (aggregate_type, aggregate_id, seq)
  WHERE status in ('pending', 'dead');
-- Retention deletes the oldest finished rows in small batches.
CREATE INDEX IF NOT EXISTS ${prefix}outbox_messages_finished_at_idx
  ON ${schema}.${prefix}outbox_messages USING btree (published_at)
  WHERE status in ('published', 'delivered');
-- Admin listing of dead rows.
CREATE INDEX IF NOT EXISTS ${prefix}outbox_messages_dead_seq_idx
  ON ${schema}.${prefix}outbox_messages USING btree (seq) WHERE status = 'dead';

-- History: every refusal, the move to dead and operator retries (accepted sends are not recorded).
CREATE TABLE IF NOT EXISTS ${schema}.${prefix}outbox_attempts (
  id bigserial PRIMARY KEY NOT NULL,
  message_id uuid NOT NULL,
  at timestamp with time zone DEFAULT now() NOT NULL,
  outcome text NOT NULL,
  attempts integer NOT NULL,
  error text,
  actor text NOT NULL,
  CONSTRAINT ${prefix}outbox_attempts_message_id_outbox_messages_id_fk FOREIGN KEY (message_id)
    REFERENCES ${schema}.${prefix}outbox_messages (id) ON DELETE cascade ON UPDATE no action
);

CREATE INDEX IF NOT EXISTS ${prefix}outbox_attempts_message_idx
  ON ${schema}.${prefix}outbox_attempts USING btree (message_id, id);

-- A claim that takes over a row whose previous claim was never settled (its lease lapsed: the relay
-- crashed or stalled, maybe after the broker accepted the send) marks the row possibly sent, so a
-- refusal of the resend never makes it dead. Every settlement clears claim_token, so a token still
-- set when a new one is written means exactly that. In the database so every claim statement gets it.
CREATE OR REPLACE FUNCTION ${schema}.${prefix}outbox_mark_possibly_sent() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  NEW.outcome_unknown := true;
  RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS ${prefix}outbox_messages_reclaimed_after_lapsed_lease ON ${schema}.${prefix}outbox_messages;
CREATE TRIGGER ${prefix}outbox_messages_reclaimed_after_lapsed_lease
  BEFORE UPDATE OF claim_token ON ${schema}.${prefix}outbox_messages
  FOR EACH ROW
  WHEN (OLD.claim_token IS NOT NULL AND NEW.claim_token IS NOT NULL
        AND NEW.claim_token IS DISTINCT FROM OLD.claim_token)
  EXECUTE FUNCTION ${schema}.${prefix}outbox_mark_possibly_sent();
