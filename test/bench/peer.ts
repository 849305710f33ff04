// The npm peer `pg-transactional-outbox` (0.5.7) on the same stack: its own outbox table in the
// sender's database (schema `peer`), its relay publishing through our AmqpPublisher to the same
// Artemis. A backlog is committed first, then the peer's listener drains it; the rate is rows
// marked processed per second of the window. Rows carry segment = aggregate id, the peer's way of
// keeping per-aggregate order (ours keeps it too), so both relays owe the same guarantee.
import { AmqpConnection } from "@outbox/messaging";
import pg from "pg";
import {
  createReplicationSegmentMutexConcurrencyController,
  DatabaseSetup,
  getDisabledLogger,
  initializePollingMessageListener,
  initializeReplicationMessageListener,
  type GeneralMessageHandler,
  type PollingListenerConfig,
  type ReplicationListenerConfig,
  type TransactionalMessage,
} from "pg-transactional-outbox";
import { AmqpPublisher } from "../../messaging/src/transports/artemis/publisher.js";
import { toAmqpMessage } from "../../sender-service/src/messaging/outbox-amqp-message.js";
import { delay, logger, QueueDrain } from "../support/relay-harness.js";

export type PeerMode = "default" | "tuned" | "replication";

const SCHEMA = "peer";
const TABLE = "outbox";
const PUBLICATION = "bench_peer_pub";
// Replication slot names are unique per PostgreSQL server.
const SLOT = "bench_peer_slot";
const NEXT_MESSAGES = "next_outbox_messages";

/** One polling setting of the peer: batch size, wait between polls, handler connections. */
export interface PollingSetting {
  batchSize: number;
  pollingIntervalMs: number;
  /** pg Pool size for the peer's message handler transactions (its default: pg's 10). */
  handlerPoolMax: number;
}

/**
 * Candidates for "best tuned": the bench runs each and reports the fastest (and which it was).
 * Bigger batches are not free: the peer's next-messages function scans every unprocessed row and
 * tries a row lock per candidate, so the sweep is what finds the best point, not a guess.
 */
export const TUNED_CANDIDATES: { quick: PollingSetting[]; full: PollingSetting[] } = {
  quick: [
    { batchSize: 10, pollingIntervalMs: 50, handlerPoolMax: 10 },
    { batchSize: 20, pollingIntervalMs: 50, handlerPoolMax: 20 },
  ],
  full: [
    { batchSize: 10, pollingIntervalMs: 50, handlerPoolMax: 10 },
    { batchSize: 20, pollingIntervalMs: 50, handlerPoolMax: 20 },
    { batchSize: 20, pollingIntervalMs: 10, handlerPoolMax: 20 },
    { batchSize: 50, pollingIntervalMs: 10, handlerPoolMax: 50 },
  ],
};

const setup = {
  outboxOrInbox: "outbox" as const,
  database: "",
  schema: SCHEMA,
  table: TABLE,
  listenerRole: "",
  publication: PUBLICATION,
  replicationSlot: SLOT,
  nextMessagesSchema: SCHEMA,
  nextMessagesName: NEXT_MESSAGES,
};

/** Creates the peer's table, polling function and indexes (its own generated SQL, minus roles/grants). */
export async function preparePeerSchema(connectionString: string): Promise<void> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await client.query(DatabaseSetup.dropAndCreateTable(setup));
    await client.query(DatabaseSetup.createPollingFunction(setup));
    await client.query(DatabaseSetup.setupPollingIndexes(setup));
  } finally {
    await client.end();
  }
}

export async function dropPeerSchema(connectionString: string): Promise<void> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await client.query(
      `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`,
      [SLOT],
    );
    await client.query(`DROP PUBLICATION IF EXISTS ${PUBLICATION}`);
    await client.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  } finally {
    await client.end();
  }
}

async function insertBacklog(client: pg.Client, count: number): Promise<void> {
  await client.query(`TRUNCATE ${SCHEMA}.${TABLE}`);
  await client.query(
    `INSERT INTO ${SCHEMA}.${TABLE} (id, aggregate_type, aggregate_id, message_type, segment, payload)
     SELECT gen_random_uuid(), 'EntityItem', a, 'EntityItemCreated', a,
            jsonb_build_object('id', a, 'name', 'peer-' || g, 'description', repeat('x', 64))
       FROM generate_series(1, $1::int) g, LATERAL (SELECT gen_random_uuid()::text AS a) agg`,
    [count],
  );
}

export interface PeerResult {
  mode: PeerMode;
  msgsPerS: number | null;
  processed: number;
  setting?: PollingSetting;
  /** Why there is no figure (e.g. the role may not replicate). */
  error?: string;
}

/**
 * Runs one peer setting for at most `windowS` seconds over a committed backlog of `backlog` rows,
 * publishing to `queue` (drained by a plain consumer so the queue never fills up).
 */
export async function runPeer(opts: {
  mode: PeerMode;
  databaseUrl: string;
  brokerUrl: string;
  queue: string;
  backlog: number;
  windowS: number;
  /** Required for mode "tuned". */
  setting?: PollingSetting;
}): Promise<PeerResult> {
  const tuned = opts.mode === "tuned" ? opts.setting : undefined;
  if (opts.mode === "tuned" && !tuned) throw new Error("the tuned peer run needs a polling setting");
  const admin = new pg.Client({ connectionString: opts.databaseUrl });
  await admin.connect();
  const amqp = new AmqpConnection({ url: opts.brokerUrl, containerId: `bench-peer-${opts.mode}`, logger });
  const publisher = new AmqpPublisher({
    amqp,
    address: opts.queue,
    linkName: `bench-peer-${opts.mode}`,
    sendTimeoutMs: 10_000,
    logger,
  });
  const drain = new QueueDrain(opts.brokerUrl, opts.queue);
  let shutdown: (() => Promise<void>) | undefined;
  try {
    amqp.open();
    publisher.start();
    await publisher.waitUntilSendable(10_000, new AbortController().signal);

    // The peer's handler: one durable send, awaited until the broker accepted it.
    const handler: GeneralMessageHandler = {
      handle: async (message: TransactionalMessage): Promise<void> => {
        const outcome = await publisher.send(
          toAmqpMessage({
            id: message.id,
            seq: 0,
            aggregateType: message.aggregateType,
            aggregateId: message.aggregateId,
            type: message.messageType,
            version: 1,
            destination: opts.queue,
            payload: message.payload,
            headers: {},
            attempts: 0,
            createdAt: new Date(message.createdAt ?? Date.now()),
            priority: 4,
            deliverAt: null,
          }),
        );
        if (outcome.kind !== "accepted") throw new Error(`broker answered ${outcome.kind}`);
      },
    };
    const listenerDb = { connectionString: opts.databaseUrl };
    const base = {
      dbSchema: SCHEMA,
      dbTable: TABLE,
      enableMaxAttemptsProtection: false,
      enablePoisonousMessageProtection: false,
    };
    const quiet = getDisabledLogger();

    if (opts.mode === "replication") {
      // The listener role needs REPLICATION and the server wal_level=logical (the bench model sets it).
      try {
        await admin.query(DatabaseSetup.setupReplicationCore({ ...setup, listenerRole: "current_user" }));
        await admin.query(
          `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`,
          [SLOT],
        );
        // Its own statement (transaction), as the peer's setup notes require.
        await admin.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [SLOT]);
      } catch (error) {
        return { mode: opts.mode, msgsPerS: null, processed: 0, error: (error as Error).message };
      }
    }
    await insertBacklog(admin, opts.backlog);

    const startedAt = Date.now();
    if (opts.mode === "replication") {
      const config: ReplicationListenerConfig = {
        outboxOrInbox: "outbox",
        dbListenerConfig: listenerDb,
        settings: { ...base, dbPublication: PUBLICATION, dbReplicationSlot: SLOT },
      };
      // Per-segment (aggregate) order, segments in parallel: the same guarantee our relay keeps.
      [shutdown] = initializeReplicationMessageListener(config, handler, quiet, {
        concurrencyStrategy: createReplicationSegmentMutexConcurrencyController(),
      });
    } else {
      const config: PollingListenerConfig = {
        outboxOrInbox: "outbox",
        dbListenerConfig: listenerDb,
        // pg's Pool takes `max` beside the client settings; the peer passes the object through.
        ...(tuned
          ? { dbHandlerConfig: { ...listenerDb, max: tuned.handlerPoolMax } as pg.ClientConfig }
          : {}),
        settings: {
          ...base,
          nextMessagesFunctionSchema: SCHEMA,
          nextMessagesFunctionName: NEXT_MESSAGES,
          ...(tuned
            ? {
                nextMessagesBatchSize: tuned.batchSize,
                nextMessagesPollingIntervalInMs: tuned.pollingIntervalMs,
              }
            : {}),
        },
      };
      [shutdown] = initializePollingMessageListener(
        config,
        handler,
        quiet,
        // Tuned: full batches from the first poll (the default ramps up one message at a time).
        tuned ? { batchSizeStrategy: () => Promise.resolve(tuned.batchSize) } : {},
      );
    }

    const deadline = startedAt + opts.windowS * 1000;
    let processed = 0;
    let lastAt = startedAt;
    for (;;) {
      await delay(250);
      const { rows } = await admin.query<{ n: string; last: Date | null }>(
        `SELECT count(*)::text AS n, max(processed_at) AS last FROM ${SCHEMA}.${TABLE} WHERE processed_at IS NOT NULL`,
      );
      processed = Number(rows[0]?.n ?? 0);
      if (processed >= opts.backlog) {
        lastAt = rows[0]?.last ? new Date(rows[0].last).getTime() : Date.now();
        break;
      }
      if (Date.now() >= deadline) {
        lastAt = Date.now();
        break;
      }
    }
    const seconds = Math.max(0.001, (lastAt - startedAt) / 1000);
    return {
      mode: opts.mode,
      msgsPerS: processed / seconds,
      processed,
      ...(tuned ? { setting: tuned } : {}),
    };
  } finally {
    await shutdown?.().catch(() => undefined);
    await admin
      .query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`, [
        SLOT,
      ])
      .catch(() => undefined);
    await admin.end().catch(() => undefined);
    await publisher.close().catch(() => undefined);
    await drain.close().catch(() => undefined);
    await amqp.close().catch(() => undefined);
  }
}
