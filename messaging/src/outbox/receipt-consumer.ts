import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/node-postgres";
import type pg from "pg";
import type { Receipt, ReceiptMessage } from "../contracts/receipt.js";
import type { HealthCheck } from "../health.js";
import type { BatchContext, Settlement } from "../inbox/batch-consumer.js";
import type { Logger } from "../logger.js";
import { isTransientConnectionError } from "../postgres/transient-error.js";
import type { ConsumerState, InboundMessage, Transport, TransportConsumer } from "../transport/transport.js";
import { endReceiptSpan, startReceiptSpan, withSpan } from "./receipt-span.js";
import type { SqlDb } from "./sql-db.js";
import type { OutboxTables } from "./tables.js";

/** An outbox id (a UUID, any case). */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Marks the outbox rows of many receipts delivered in ONE statement; idempotent (a repeated receipt
 * changes nothing); a row named twice is updated once. Returns the ids of the rows it marked: not
 * the ids of no row waiting for a receipt (unknown, already delivered), nor ids that are not
 * outbox ids at all (not UUIDs).
 *
 * A receipt can overtake the relay's own "published" mark (the broker accepted, the receiver
 * applied and answered before the relay's UPDATE committed). The receipt is the stronger proof,
 * so a still-pending row goes straight to delivered, with published_at filled in and its claim
 * cleared; the relay's late mark then matches no pending row and changes nothing. A dead row is
 * marked delivered too: a copy sent before it went dead reached the consumer after all (e.g. the
 * relay stalled after the broker accepted it, and its resends were refused), so it is not lost.
 *
 * The rows are locked in id order before the update, like the relay's own marks (see the lock
 * order note in relay-statements.ts): a receipt batch and a relay mark over the same rows never
 * deadlock.
 */
export async function markAllDelivered(
  db: SqlDb,
  tables: OutboxTables,
  receipts: readonly Receipt[],
): Promise<Set<string>> {
  const outboxIds = receipts.filter((r) => UUID.test(r.messageId));
  if (outboxIds.length === 0) return new Set();
  const messages = tables.outboxMessages;
  // One jsonb parameter carries the batch: no statement text that grows with the batch size.
  const rows = JSON.stringify(outboxIds.map((r) => ({ id: r.messageId, at: r.appliedAt })));
  const result = await db.execute<{ id: string }>(sql`
    WITH r AS MATERIALIZED (
      SELECT DISTINCT ON (id) id, at FROM jsonb_to_recordset(${rows}::jsonb) AS r(id uuid, at timestamptz)
       ORDER BY id, at
    ), locked AS MATERIALIZED (
      SELECT o.id FROM ${messages} o
       WHERE o.id IN (SELECT id FROM r) AND o.status IN ('pending', 'published', 'dead')
       ORDER BY o.id
         FOR UPDATE OF o
    )
    UPDATE ${messages} o
       SET status = 'delivered', delivered_at = r.at, published_at = coalesce(o.published_at, r.at),
           locked_by = NULL, locked_until = NULL, claim_token = NULL
      FROM locked JOIN r ON r.id = locked.id
     WHERE o.id = locked.id AND o.status IN ('pending', 'published', 'dead')
    RETURNING o.id`);
  return new Set(result.rows.map((row) => row.id));
}

/** Where the receipt consumer marks rows: the application's pool (a drizzle database over it)... */
type ReceiptDatabase = { pool: pg.Pool; db?: never } | { db: SqlDb; pool?: never };

export type StartReceiptConsumerOptions = ReceiptDatabase & {
  /** Opens the consumer (only `consumer()` is used; the caller opens and closes the transport). */
  transport: Pick<Transport, "consumer">;
  /** The receipts' source: an Artemis queue (a plain queue as `queue::queue`), a Kafka topic. */
  source: string;
  /** The consumer group on the source (Artemis ignores it for a `queue::queue` source). Default "outbox". */
  group?: string;
  /** The name spans and health give the source (messaging.destination.name); default `source`. */
  destinationName?: string;
  logger: Logger;
  /** Receipts processed at once (credit). Default 32. */
  maxInFlight?: number;
  /**
   * Receipt messages whose rows go into one UPDATE, at most (and at most maxInFlight). Default 50;
   * 1 = one receipt message at a time (a version 2 one still marks all its rows in one UPDATE).
   */
  batchSize?: number;
  /** How long a batch waits for more receipts while another batch is running. Default 5 ms. */
  batchLingerMs?: number;
  /**
   * True when the database answers. After a database failure the consumer stops granting credit
   * and polls this (like the inbox consumer), so an outage neither burns the receipts' delivery
   * attempts nor sends them to the dead-letter queue. Without it such a failure is retried by the
   * broker (modified, delivery failed) like any other.
   */
  probe?: () => Promise<boolean>;
  /** stop()'s budget. Default 1.5 s: well inside a service host's 5 s per hook. */
  stopTimeoutMs?: number;
};

export interface ReceiptConsumerState extends ConsumerState {
  source: string;
  /** Rows marked delivered. */
  delivered: number;
  /** Rows named by a receipt that waited for none (unknown, already delivered, not an outbox id). */
  unmatched: number;
  /** Receipts whose UPDATE failed (held, or given back to the broker). */
  failed: number;
}

export interface RunningReceiptConsumer {
  /**
   * Stops within its budget: no new receipts, no more probes or retries. Receipts in hand are
   * marked if the database answers at once; paused or failing ones are released (the broker hands
   * them out again, uncounted). An UPDATE still running when the budget ends is left to finish on
   * its own and its receipt released: marking is idempotent, so a redelivered receipt is harmless.
   */
  stop(): Promise<void>;
  /** Degraded while the link is not attached or consumption is paused for the database. */
  healthCheck(): HealthCheck;
  state(): ReceiptConsumerState;
}

const STOP_BUDGET_MS = 1_500;

const STOPPED_WHILE_UNREACHABLE = "stopped while the database was unreachable";

type Delivery = InboundMessage<ReceiptMessage>;

/**
 * Consumes delivery receipts through the transport and marks the outbox's rows delivered. A
 * receipt is accepted only after the UPDATE committed. The database unreachable (and a probe
 * given): consumption pauses until the probe answers, and the receipts in hand are held unsettled
 * and retried then (the broker neither counts an attempt nor dead-letters them); any other failure
 * answers retry, so the broker's redelivery delay applies; an unreadable receipt is dead-lettered
 * on arrival by the transport.
 *
 * A receipt message acknowledges one row (version 1) or every row of a batch the receiver applied
 * (version 2, contracts/receipt.ts); both are read, so old and new receivers mix freely. The rows
 * of the receipts in hand (up to batchSize messages) go into one UPDATE and the receipts are
 * accepted together after it committed. A batch whose UPDATE fails for another reason than the
 * database being unreachable is retried one receipt message at a time, so one bad receipt cannot
 * fail its neighbours.
 */
export function startReceiptConsumer(
  tables: OutboxTables,
  options: StartReceiptConsumerOptions,
): RunningReceiptConsumer {
  const db: SqlDb = options.db ?? drizzle(options.pool);
  const { probe, logger } = options;
  const source = options.destinationName ?? options.source;
  const counters = { delivered: 0, unmatched: 0, failed: 0 };

  /** Counts the rows of `receipt` as delivered (removed from `marked`: a row counts once) or unmatched. */
  const count = (marked: Set<string>, receipt: ReceiptMessage): void => {
    for (const { messageId } of receipt.receipts) {
      if (marked.delete(messageId.toLowerCase())) counters.delivered += 1;
      else counters.unmatched += 1;
    }
  };

  const handleOne = async (delivery: Delivery, signal: AbortSignal): Promise<Settlement> => {
    const receipt = delivery.value;
    const span = startReceiptSpan(delivery, source, receipt.receipts.length);
    try {
      count(await withSpan(span, () => markAllDelivered(db, tables, receipt.receipts)), receipt);
      endReceiptSpan(span);
      return { action: "accept" };
    } catch (error) {
      counters.failed += 1;
      logger.warn(
        { err: error, messageId: delivery.messageId, rows: receipt.receipts.length },
        "could not record a delivery receipt",
      );
      if (!isTransientConnectionError(error) || probe === undefined) {
        endReceiptSpan(span, describe(error));
        return { action: "retry", reason: describe(error) };
      }
      // Not the receipt's fault: held and tried again once the database answers. Stopping: released.
      endReceiptSpan(span, heldReason(signal));
      return signal.aborted ? { action: "release" } : { action: "hold", reason: describe(error) };
    }
  };

  /** All receipts' rows in one UPDATE; one receipt message at a time when that fails for another reason. */
  const handleBatch = async (batch: readonly Delivery[], { signal }: BatchContext): Promise<Settlement[]> => {
    if (batch.length === 1) {
      const [only] = batch;
      return only === undefined ? [] : [await handleOne(only, signal)];
    }
    const spans = batch.map((delivery) => startReceiptSpan(delivery, source, delivery.value.receipts.length));
    try {
      const marked = await markAllDelivered(
        db,
        tables,
        batch.flatMap((d) => d.value.receipts),
      );
      batch.forEach((delivery, i) => {
        count(marked, delivery.value);
        const span = spans[i];
        if (span !== undefined) endReceiptSpan(span);
      });
      return batch.map(() => ({ action: "accept" }));
    } catch (error) {
      if (!isTransientConnectionError(error) || probe === undefined) {
        logger.warn(
          { err: error, receipts: batch.length },
          "could not record a batch of delivery receipts; trying them one at a time",
        );
        for (const span of spans) endReceiptSpan(span, "batch failed; handled one at a time");
        const outcomes: Settlement[] = [];
        for (const delivery of batch) {
          const last = outcomes.at(-1);
          // After a hold (the database went away) the rest waits with it for the resume.
          if (signal.aborted) outcomes.push({ action: "release" });
          else if (last?.action === "hold") outcomes.push(last);
          else outcomes.push(await handleOne(delivery, signal));
        }
        return outcomes;
      }
      counters.failed += batch.length;
      logger.warn({ err: error, receipts: batch.length }, "could not record a batch of delivery receipts");
      // Not the receipts' fault: held (unsettled, so the broker neither counts an attempt nor hands
      // them out again) and tried again once the database answers. Stopping: released.
      for (const span of spans) endReceiptSpan(span, heldReason(signal));
      return batch.map(() =>
        signal.aborted ? { action: "release" } : { action: "hold", reason: describe(error) },
      );
    }
  };

  const maxInFlight = options.maxInFlight ?? 32;
  const consumer: TransportConsumer = options.transport.consumer<"receipt", Settlement>({
    contract: "receipt",
    source: options.source,
    group: options.group ?? "outbox",
    maxInFlight,
    batchSize: options.batchSize ?? 50,
    lingerMs: options.batchLingerMs ?? 5,
    handle: handleBatch,
    ...(probe !== undefined ? { probe } : {}),
    // Receipts taken before a pause wait for the database instead of failing against it again.
    waitWhilePaused: true,
    stopTimeoutMs: options.stopTimeoutMs ?? STOP_BUDGET_MS,
    // Marking is idempotent: a receipt given back while its UPDATE still runs is harmless.
    releaseOnStopTimeout: true,
    detachTimeoutMs: 0,
  });
  consumer.start();

  const state = (): ReceiptConsumerState => ({ ...consumer.state(), source, ...counters });
  return {
    stop: () => consumer.stop(),
    state,
    healthCheck: () => () => {
      const now = state();
      const data = {
        queue: source,
        delivered: now.delivered,
        unmatched: now.unmatched,
        failed: now.failed,
        paused: now.paused,
        probes: now.probes,
      };
      if (!now.attached) return { status: "degraded", detail: "receipt link not attached", data };
      if (now.paused) return { status: "degraded", detail: "paused until the database answers", data };
      return { status: "healthy", data };
    },
  };
}

function heldReason(signal: AbortSignal): string {
  return signal.aborted ? STOPPED_WHILE_UNREACHABLE : "database unreachable; held until it answers";
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
