import type { HealthCheck, Logger } from "@outbox/service-defaults";
import { sql } from "drizzle-orm";
import type { Connection, Delivery, EventContext, Message, Receiver } from "rhea";
import { isTransientConnectionError } from "@outbox/service-defaults";
import type { Database } from "../data/db.js";
import { UUID } from "../data/outbox-statuses.js";
import { parseReceiptMessage, type Receipt, type ReceiptMessage } from "./receipt-message.js";
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

const PROBE_DELAY_MS = { initial: 500, max: 10_000 };

/** stop()'s default budget: well inside the service host's 5 s per hook, so later hooks keep theirs. */
const STOP_BUDGET_MS = 1_500;

type ReceiverWithCredit = Receiver & { credit: number };

/** A readable receipt message (one or many rows) waiting in a batch. */
interface PendingReceipt {
  delivery: Delivery;
  message: Message;
  receipt: ReceiptMessage;
}

type Settlement = "accept" | "release" | "modified";

/**
 * Consumes delivery receipts and marks outbox rows delivered. A receipt is accepted only after
 * the UPDATE committed. The database unreachable: consumption pauses (no new credit) until a probe
 * answers, and the receipts in hand are kept unsettled and retried then (the broker neither counts
 * an attempt nor dead-letters them); any other failure answers
 * modified(delivery_failed), so the broker's redelivery delay applies; an unreadable receipt is
 * rejected (dead-lettered).
 *
 * A receipt message acknowledges one row (version 1) or every row of a batch the receiver applied
 * (version 2, receipt-message.ts); both are read, so old and new receivers mix freely. Receipt
 * messages are marked in batches too: the rows of the receipts in hand (up to batchSize messages)
 * go into one UPDATE and the receipts are accepted together after it committed. A batch whose
 * UPDATE fails for another reason than the database being unreachable is retried one receipt
 * message at a time, so one bad receipt cannot fail its neighbours.
 */
export class ReceiptConsumer {
  private receiver: ReceiverWithCredit | undefined;
  private inFlight = 0;
  private readonly handlers = new Set<Promise<void>>();
  private stopped = false;
  private reattachTimer: NodeJS.Timeout | undefined;
  private reattachDelayMs = 1_000;
  private delivered = 0;
  private unmatched = 0;
  private failed = 0;
  private paused = false;
  private probes = 0;
  private probeTimer: NodeJS.Timeout | undefined;
  private readonly resumeWaiters = new Set<(resumed: boolean) => void>();
  private forming: PendingReceipt[] = [];
  /** Cancels the pending cut of the forming batch (a timeout or an immediate), when one is set. */
  private cancelCut: (() => void) | undefined;
  private runningBatches = 0;
  /** Receipts taken from the broker and not settled yet: stop() releases what its budget leaves. */
  private readonly unsettled = new Set<PendingReceipt>();

  constructor(private readonly opts: ReceiptConsumerOptions) {}

  start(): void {
    this.attach();
  }

  private attach(): void {
    const receiver = this.opts.connection.open_receiver({
      source: { address: this.opts.queue },
      autoaccept: false,
      credit_window: 0,
    }) as ReceiverWithCredit;
    this.receiver = receiver;
    // Also after every reconnect: rhea re-attaches with zero credit.
    receiver.on("receiver_open", () => {
      this.reattachDelayMs = 1_000;
      this.topUp();
    });
    receiver.on("message", (ctx: EventContext) => this.onMessage(ctx));
    receiver.on("receiver_error", () =>
      this.opts.logger.warn({ queue: this.opts.queue }, "broker closed the receipt link"),
    );
    // rhea re-attaches after a reconnect, but not a link the broker detached (e.g. queue missing).
    receiver.on("receiver_close", () => {
      if (this.stopped || this.receiver !== receiver) return;
      const delay = this.reattachDelayMs;
      this.reattachDelayMs = Math.min(delay * 2, 30_000);
      this.reattachTimer = setTimeout(() => {
        this.reattachTimer = undefined;
        if (!this.stopped) this.attach();
      }, delay);
    });
  }

  healthCheck(): HealthCheck {
    return () => {
      const r = this.receiver;
      const attached = r !== undefined && r.is_open() && r.is_remote_open();
      const data = {
        queue: this.opts.queue,
        delivered: this.delivered,
        unmatched: this.unmatched,
        failed: this.failed,
        paused: this.paused,
        probes: this.probes,
      };
      if (!attached) return { status: "degraded", detail: "receipt link not attached", data };
      if (this.paused) return { status: "degraded", detail: "paused until the database answers", data };
      return { status: "healthy", data };
    };
  }

  /**
   * Stops within `budgetMs`: no new receipts, no more probes or retries. Receipts in hand are
   * marked if the database answers at once; paused or failing ones are released (the broker hands
   * them out again, uncounted). An UPDATE still running when the budget ends is left to finish on
   * its own and its receipt released: marking is idempotent, so a redelivered receipt is harmless.
   */
  async stop(budgetMs = STOP_BUDGET_MS): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reattachTimer);
    clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
    this.wakeResumeWaiters(false);
    this.cutBatch();
    let timer: NodeJS.Timeout | undefined;
    const outOfTime = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), budgetMs);
    });
    const finished = await Promise.race([Promise.allSettled([...this.handlers]), outOfTime]);
    clearTimeout(timer);
    if (finished === "timeout") {
      this.opts.logger.warn(
        { unsettled: this.unsettled.size, budgetMs },
        "receipt consumer stopped with receipts still being marked; released them",
      );
      for (const pending of [...this.unsettled]) this.settle(pending, "release");
    }
    this.receiver?.close();
  }

  /** Settles a receipt once: a late handler after stop() released it changes nothing. */
  private settle(pending: PendingReceipt, how: Settlement): boolean {
    if (!this.unsettled.delete(pending)) return false;
    if (how === "accept") pending.delivery.accept();
    else if (how === "release") pending.delivery.release();
    else pending.delivery.modified({ delivery_failed: true });
    return true;
  }

  private topUp(): void {
    const r = this.receiver;
    if (this.stopped || this.paused || r === undefined || !r.is_open()) return;
    const wanted = (this.opts.maxInFlight ?? 32) - this.inFlight - r.credit;
    if (wanted > 0) r.add_credit(wanted);
  }

  private onMessage(ctx: EventContext): void {
    const { delivery, message } = ctx;
    if (delivery === undefined || message === undefined) return;
    if (this.stopped) {
      delivery.release();
      return;
    }
    const receipt = parseReceiptMessage(message);
    if (receipt === undefined) {
      delivery.reject({ condition: "amqp:decode-error", description: "not a delivery receipt" });
      this.opts.logger.warn({ messageId: message.message_id }, "unreadable delivery receipt rejected");
      this.topUp();
      return;
    }
    this.inFlight += 1;
    const pending: PendingReceipt = { delivery, message, receipt };
    this.unsettled.add(pending);
    this.forming.push(pending);
    const maxSize = Math.min(this.opts.batchSize ?? 50, this.opts.maxInFlight ?? 32);
    if (this.forming.length >= maxSize) {
      this.cutBatch();
      return;
    }
    if (this.cancelCut !== undefined) return;
    // Nothing running: cut after the receipts that arrived together (same I/O turn) joined.
    if (this.runningBatches === 0) {
      const immediate = setImmediate(() => this.cutBatch());
      this.cancelCut = () => clearImmediate(immediate);
    } else {
      const timer = setTimeout(() => this.cutBatch(), this.opts.batchLingerMs ?? 5);
      this.cancelCut = () => clearTimeout(timer);
    }
  }

  private cutBatch(): void {
    this.cancelCut?.();
    this.cancelCut = undefined;
    const batch = this.forming;
    if (batch.length === 0) return;
    this.forming = [];
    this.runningBatches += 1;
    const handler = this.handleBatch(batch).finally(() => {
      this.runningBatches -= 1;
      this.inFlight -= batch.length;
      this.handlers.delete(handler);
      this.topUp();
    });
    this.handlers.add(handler);
  }

  private async handleBatch(batch: PendingReceipt[]): Promise<void> {
    if (batch.length === 1) {
      const [only] = batch;
      if (only !== undefined) await this.handle(only);
      return;
    }
    const spans = batch.map(({ message, receipt }) =>
      startReceiptSpan(message, this.opts.queue, receipt.receipts.length),
    );
    for (;;) {
      // Paused (the database is unreachable): wait for the probe instead of trying a batch that
      // was formed meanwhile.
      if (this.paused && !(await this.resumed())) {
        for (const span of spans) endReceiptSpan(span, "stopped while the database was unreachable");
        for (const pending of batch) this.settle(pending, "release");
        return;
      }
      try {
        const marked = await markAllDelivered(
          this.opts.db,
          batch.flatMap((p) => p.receipt.receipts),
        );
        batch.forEach((pending, i) => {
          this.count(marked, pending.receipt);
          this.settle(pending, "accept");
          const span = spans[i];
          if (span !== undefined) endReceiptSpan(span);
        });
        return;
      } catch (error) {
        if (!isTransientConnectionError(error) || this.opts.probe === undefined) {
          this.opts.logger.warn(
            { err: error, receipts: batch.length },
            "could not record a batch of delivery receipts; trying them one at a time",
          );
          for (const span of spans) endReceiptSpan(span, "batch failed; handled one at a time");
          for (const pending of batch) {
            if (this.stopped) this.settle(pending, "release");
            else await this.handle(pending);
          }
          return;
        }
        this.failed += batch.length;
        this.opts.logger.warn(
          { err: error, receipts: batch.length },
          "could not record a batch of delivery receipts",
        );
        // Not the receipts' fault: keep them (unsettled, so the broker neither counts an attempt
        // nor hands them out again) and try again once the database answers (top of the loop).
        // Stopping: no retry, the broker hands them out again.
        if (this.stopped) {
          for (const span of spans) endReceiptSpan(span, "stopped while the database was unreachable");
          for (const pending of batch) this.settle(pending, "release");
          return;
        }
        this.pause();
      }
    }
  }

  /** Counts the rows of `receipt` as delivered (removed from `marked`: a row counts once) or unmatched. */
  private count(marked: Set<string>, receipt: ReceiptMessage): void {
    for (const { messageId } of receipt.receipts) {
      if (marked.delete(messageId.toLowerCase())) this.delivered += 1;
      else this.unmatched += 1;
    }
  }

  private async handle(pending: PendingReceipt): Promise<void> {
    const { message, receipt } = pending;
    const span = startReceiptSpan(message, this.opts.queue, receipt.receipts.length);
    for (;;) {
      if (this.paused && !(await this.resumed())) {
        endReceiptSpan(span, "stopped while the database was unreachable");
        this.settle(pending, "release");
        return;
      }
      try {
        this.count(await withSpan(span, () => markAllDelivered(this.opts.db, receipt.receipts)), receipt);
        this.settle(pending, "accept");
        endReceiptSpan(span);
        return;
      } catch (error) {
        this.failed += 1;
        this.opts.logger.warn(
          { err: error, messageId: message.message_id, rows: receipt.receipts.length },
          "could not record a delivery receipt",
        );
        if (!isTransientConnectionError(error) || this.opts.probe === undefined) {
          endReceiptSpan(span, error instanceof Error ? error.message : String(error));
          this.settle(pending, "modified");
          return;
        }
        // Not the receipt's fault: keep it (unsettled, so the broker neither counts an attempt
        // nor hands it out again) and try again once the database answers (top of the loop).
        // Stopping: no retry, the broker hands it out again.
        if (this.stopped) {
          endReceiptSpan(span, "stopped while the database was unreachable");
          this.settle(pending, "release");
          return;
        }
        this.pause();
      }
    }
  }

  /**
   * Resolves true when consumption resumes, false when the consumer stops first. Once stopped it
   * answers false at once: stop() woke the waiters that were there, and nobody would wake a new one.
   */
  private resumed(): Promise<boolean> {
    if (this.stopped) return Promise.resolve(false);
    if (!this.paused) return Promise.resolve(true);
    return new Promise((resolve) => this.resumeWaiters.add(resolve));
  }

  private wakeResumeWaiters(result: boolean): void {
    for (const wake of [...this.resumeWaiters]) wake(result);
    this.resumeWaiters.clear();
  }

  private pause(): void {
    if (this.paused || this.stopped) return;
    this.paused = true;
    this.opts.logger.warn("receipt consumer paused until the database answers");
    this.scheduleProbe(PROBE_DELAY_MS.initial);
  }

  private scheduleProbe(delayMs: number): void {
    this.probeTimer = setTimeout(() => void this.runProbe(delayMs), delayMs);
  }

  private async runProbe(delayMs: number): Promise<void> {
    this.probeTimer = undefined;
    const probe = this.opts.probe;
    if (probe === undefined || this.stopped) return;
    this.probes += 1;
    const ok = await probe().catch(() => false);
    if (this.stopped) return;
    if (!ok) {
      this.scheduleProbe(Math.min(delayMs * 2, PROBE_DELAY_MS.max));
      return;
    }
    this.paused = false;
    this.opts.logger.info("database answers again; receipt consumer resumes");
    this.wakeResumeWaiters(true);
    this.topUp();
  }
}
