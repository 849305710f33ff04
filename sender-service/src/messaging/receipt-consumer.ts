import type { HealthCheck, Logger } from "@outbox/service-defaults";
import { sql } from "drizzle-orm";
import type { Connection } from "rhea";
import { isTransientConnectionError } from "@outbox/service-defaults";
import {
  BatchConsumer,
  parseReceiptMessage,
  type BatchContext,
  type BatchDelivery,
  type Receipt,
  type ReceiptMessage,
  type Settlement,
} from "@outbox/messaging";
import type { Database } from "../data/db.js";
import { UUID } from "../data/outbox-statuses.js";
import { endReceiptSpan, startReceiptSpan, withSpan } from "./receipt-span.js";

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
 * order note in data/outbox.ts): a receipt batch and a relay mark over the same rows never deadlock.
 */
export async function markAllDelivered(db: Database, receipts: readonly Receipt[]): Promise<Set<string>> {
  const outboxIds = receipts.filter((r) => UUID.test(r.messageId));
  if (outboxIds.length === 0) return new Set();
  // One jsonb parameter carries the batch: no statement text that grows with the batch size.
  const rows = JSON.stringify(outboxIds.map((r) => ({ id: r.messageId, at: r.appliedAt })));
  const result = await db.execute<{ id: string }>(sql`
    WITH r AS MATERIALIZED (
      SELECT DISTINCT ON (id) id, at FROM jsonb_to_recordset(${rows}::jsonb) AS r(id uuid, at timestamptz)
       ORDER BY id, at
    ), locked AS MATERIALIZED (
      SELECT o.id FROM outbox_messages o
       WHERE o.id IN (SELECT id FROM r) AND o.status IN ('pending', 'published', 'dead')
       ORDER BY o.id
         FOR UPDATE OF o
    )
    UPDATE outbox_messages o
       SET status = 'delivered', delivered_at = r.at, published_at = coalesce(o.published_at, r.at),
           locked_by = NULL, locked_until = NULL, claim_token = NULL
      FROM locked JOIN r ON r.id = locked.id
     WHERE o.id = locked.id AND o.status IN ('pending', 'published', 'dead')
    RETURNING o.id`);
  return new Set(result.rows.map((row) => row.id));
}

export interface ReceiptConsumerOptions {
  connection: Connection;
  queue: string;
  db: Database;
  logger: Logger;
  /** Receipts processed at once (manual credit). Default 32. */
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
   * and polls this (like the receiver's inbox consumer), so an outage neither burns the receipts'
   * delivery attempts nor sends them to the dead-letter queue.
   */
  probe?: () => Promise<boolean>;
}

/** stop()'s default budget: well inside the service host's 5 s per hook, so later hooks keep theirs. */
const STOP_BUDGET_MS = 1_500;

const STOPPED_WHILE_UNREACHABLE = "stopped while the database was unreachable";

/**
 * Consumes delivery receipts and marks outbox rows delivered, on @outbox/messaging's
 * BatchConsumer (credit, batches, settlement, pause on a database outage). A receipt is accepted
 * only after the UPDATE committed. The database unreachable: consumption pauses (no new credit)
 * until a probe answers, and the receipts in hand are held unsettled and retried then (the broker
 * neither counts an attempt nor dead-letters them); any other failure answers
 * modified(delivery_failed), so the broker's redelivery delay applies; an unreadable receipt is
 * rejected (dead-lettered) on arrival.
 *
 * A receipt message acknowledges one row (version 1) or every row of a batch the receiver applied
 * (version 2, the receipt contract in @outbox/messaging); both are read, so old and new receivers
 * mix freely. Receipt messages are marked in batches too: the rows of the receipts in hand (up to
 * batchSize messages) go into one UPDATE and the receipts are accepted together after it
 * committed. A batch whose UPDATE fails for another reason than the database being unreachable is
 * retried one receipt message at a time, so one bad receipt cannot fail its neighbours.
 */
export class ReceiptConsumer {
  private readonly consumer: BatchConsumer<ReceiptMessage, Settlement>;
  private delivered = 0;
  private unmatched = 0;
  private failed = 0;

  constructor(private readonly opts: ReceiptConsumerOptions) {
    const maxInFlight = opts.maxInFlight ?? 32;
    this.consumer = new BatchConsumer<ReceiptMessage, Settlement>({
      connection: opts.connection,
      queue: opts.queue,
      maxInFlight,
      batchSize: opts.batchSize ?? 50,
      lingerMs: opts.batchLingerMs ?? 5,
      logger: opts.logger,
      decode: (message) => {
        const receipt = parseReceiptMessage(message);
        return receipt === undefined
          ? { ok: false, reason: "not a delivery receipt" }
          : { ok: true, value: receipt };
      },
      handle: (batch, context) => this.handleBatch(batch, context),
      ...(opts.probe !== undefined ? { probe: opts.probe } : {}),
      // Receipts taken before a pause wait for the database instead of failing against it again.
      waitWhilePaused: true,
      stopTimeoutMs: STOP_BUDGET_MS,
      // Marking is idempotent: a receipt given back while its UPDATE still runs is harmless.
      releaseOnStopTimeout: true,
      detachTimeoutMs: 0,
    });
  }

  start(): void {
    this.consumer.start();
  }

  healthCheck(): HealthCheck {
    return () => {
      const state = this.consumer.state();
      const data = {
        queue: this.opts.queue,
        delivered: this.delivered,
        unmatched: this.unmatched,
        failed: this.failed,
        paused: state.paused,
        probes: state.probes,
      };
      if (!state.attached) return { status: "degraded", detail: "receipt link not attached", data };
      if (state.paused) return { status: "degraded", detail: "paused until the database answers", data };
      return { status: "healthy", data };
    };
  }

  /**
   * Stops within `budgetMs`: no new receipts, no more probes or retries. Receipts in hand are
   * marked if the database answers at once; paused or failing ones are released (the broker hands
   * them out again, uncounted). An UPDATE still running when the budget ends is left to finish on
   * its own and its receipt released: marking is idempotent, so a redelivered receipt is harmless.
   */
  stop(budgetMs = STOP_BUDGET_MS): Promise<void> {
    return this.consumer.stop(budgetMs);
  }

  /** All receipts' rows in one UPDATE; one receipt message at a time when that fails for another reason. */
  private async handleBatch(
    batch: readonly BatchDelivery<ReceiptMessage>[],
    { signal }: BatchContext,
  ): Promise<Settlement[]> {
    if (batch.length === 1) {
      const [only] = batch;
      return only === undefined ? [] : [await this.handle(only, signal)];
    }
    const spans = batch.map(({ message, value }) =>
      startReceiptSpan(message, this.opts.queue, value.receipts.length),
    );
    try {
      const marked = await markAllDelivered(
        this.opts.db,
        batch.flatMap((d) => d.value.receipts),
      );
      batch.forEach((delivery, i) => {
        this.count(marked, delivery.value);
        const span = spans[i];
        if (span !== undefined) endReceiptSpan(span);
      });
      return batch.map(() => ({ action: "accept" }));
    } catch (error) {
      if (!isTransientConnectionError(error) || this.opts.probe === undefined) {
        this.opts.logger.warn(
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
          else outcomes.push(await this.handle(delivery, signal));
        }
        return outcomes;
      }
      this.failed += batch.length;
      this.opts.logger.warn(
        { err: error, receipts: batch.length },
        "could not record a batch of delivery receipts",
      );
      // Not the receipts' fault: held (unsettled, so the broker neither counts an attempt nor hands
      // them out again) and tried again once the database answers. Stopping: released.
      for (const span of spans) endReceiptSpan(span, heldReason(signal));
      return batch.map(() =>
        signal.aborted ? { action: "release" } : { action: "hold", reason: describe(error) },
      );
    }
  }

  /** Counts the rows of `receipt` as delivered (removed from `marked`: a row counts once) or unmatched. */
  private count(marked: Set<string>, receipt: ReceiptMessage): void {
    for (const { messageId } of receipt.receipts) {
      if (marked.delete(messageId.toLowerCase())) this.delivered += 1;
      else this.unmatched += 1;
    }
  }

  private async handle(
    { message, value: receipt }: BatchDelivery<ReceiptMessage>,
    signal: AbortSignal,
  ): Promise<Settlement> {
    const span = startReceiptSpan(message, this.opts.queue, receipt.receipts.length);
    try {
      this.count(await withSpan(span, () => markAllDelivered(this.opts.db, receipt.receipts)), receipt);
      endReceiptSpan(span);
      return { action: "accept" };
    } catch (error) {
      this.failed += 1;
      this.opts.logger.warn(
        { err: error, messageId: message.message_id, rows: receipt.receipts.length },
        "could not record a delivery receipt",
      );
      if (!isTransientConnectionError(error) || this.opts.probe === undefined) {
        endReceiptSpan(span, describe(error));
        return { action: "retry", reason: describe(error) };
      }
      // Not the receipt's fault: held and tried again once the database answers. Stopping: released.
      endReceiptSpan(span, heldReason(signal));
      return signal.aborted ? { action: "release" } : { action: "hold", reason: describe(error) };
    }
  }
}

function heldReason(signal: AbortSignal): string {
  return signal.aborted ? STOPPED_WHILE_UNREACHABLE : "database unreachable; held until it answers";
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
