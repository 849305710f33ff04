-- The inbox of @outbox/messaging: one row per (consumer group, message id) a group has applied.
-- Recording the row and running the handler's effect happen in one transaction, so a redelivered
-- message finds its row and is skipped. Several consumer groups share the table.
CREATE TABLE IF NOT EXISTS ${schema}.${prefix}inbox (
  consumer_group text NOT NULL,
  -- text, not uuid: the key is whatever id the producer gave the message.
  message_id text NOT NULL,
  type text NOT NULL,
  version integer NOT NULL,
  aggregate_id text,
  received_at timestamptz NOT NULL DEFAULT now(),
  processed_at timestamptz,
  CONSTRAINT ${prefix}inbox_pkey PRIMARY KEY (consumer_group, message_id)
);

-- Upgrade of a single-group inbox (receiver-service before the library: primary key message_id, no
-- consumer_group). Its rows were applied by the one group that used it; they are kept under the
-- group '*', which the consumer counts as applied by every group until the retention job has
-- deleted them. On a table created above these statements change nothing.
ALTER TABLE ${schema}.${prefix}inbox ADD COLUMN IF NOT EXISTS consumer_group text;
UPDATE ${schema}.${prefix}inbox SET consumer_group = '*' WHERE consumer_group IS NULL;
ALTER TABLE ${schema}.${prefix}inbox ALTER COLUMN consumer_group SET NOT NULL;
ALTER TABLE ${schema}.${prefix}inbox ALTER COLUMN aggregate_id DROP NOT NULL;
DO $$
DECLARE
  pkey record;
BEGIN
  SELECT c.conname, array_agg(a.attname::text ORDER BY k.ord) AS columns
    INTO pkey
    FROM pg_constraint c
    CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
    JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
   WHERE c.conrelid = '${schema}.${prefix}inbox'::regclass AND c.contype = 'p'
   GROUP BY c.conname;
  IF pkey.columns IS DISTINCT FROM ARRAY['consumer_group', 'message_id'] THEN
    IF pkey.conname IS NOT NULL THEN
      EXECUTE format('ALTER TABLE ${schema}.${prefix}inbox DROP CONSTRAINT %I', pkey.conname);
    END IF;
    ALTER TABLE ${schema}.${prefix}inbox ADD CONSTRAINT ${prefix}inbox_pkey PRIMARY KEY (consumer_group, message_id);
  END IF;
END
$$;

-- The retention job deletes the oldest rows first.
CREATE INDEX IF NOT EXISTS ${prefix}inbox_received_at_idx ON ${schema}.${prefix}inbox (received_at);

-- Deliveries skipped because their message id was already in the inbox. delivery_count 0: the
-- broker delivered a second copy; more: a redelivery it knows of (e.g. an accept lost to a reconnect).
CREATE TABLE IF NOT EXISTS ${schema}.${prefix}inbox_duplicates (
  id bigserial PRIMARY KEY,
  message_id text NOT NULL,
  consumer_group text,
  delivery_count integer NOT NULL,
  occurred_at timestamptz NOT NULL DEFAULT now()
);

-- Failed attempts (transient: redelivered; poison: dead-lettered), recorded outside the failed
-- transaction so that redeliveries and dead letters can say why.
CREATE TABLE IF NOT EXISTS ${schema}.${prefix}inbox_failures (
  id bigserial PRIMARY KEY,
  -- Null: a poison message without a readable id.
  message_id text,
  consumer_group text,
  attempt integer NOT NULL,
  kind text NOT NULL CONSTRAINT ${prefix}inbox_failures_kind_check CHECK (kind IN ('transient', 'poison')),
  error text NOT NULL,
  occurred_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS ${prefix}inbox_failures_message_id_idx ON ${schema}.${prefix}inbox_failures (message_id);
CREATE INDEX IF NOT EXISTS ${prefix}inbox_failures_occurred_at_idx ON ${schema}.${prefix}inbox_failures (occurred_at);
