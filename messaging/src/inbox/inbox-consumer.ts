import { context, SpanStatusCode, trace, type Span } from "@opentelemetry/api";
import type { HealthCheck } from "../health.js";
import type { Logger } from "../logger.js";
import type pg from "pg";
import { buildReceiptBody, receiptId } from "../contracts/receipt.js";
import type { IncomingEnvelope } from "../contracts/envelope.js";
import { startProcessSpan } from "../telemetry/consumer-span.js";
import type {
  InboundMessage,
  ReceiptPublisher,
  Transport,
  TransportConsumer,
} from "../transport/transport.js";
import { describeError } from "./classify-error.js";
import { recordDuplicate, recordFailure, type FailureRecord } from "./inbox-store.js";
import type { InboxTables } from "./inbox-tables.js";
import {
  createInboxBatchProcessor,
  type AcceptedOutcome,
  type InboxBatchItem,
  type InboxHandlers,
  type InboxOutcome,
} from "./process-inbox-batch.js";
import type { MessageVersions } from "./handler-registry.js";
import { startReceiptSendSpan } from "./receipt-span.js";

const tracer = trace.getTracer("@outbox/messaging");
const MAX_PENDING_FAILURE_RECORDS = 32;
const MAX_UNRECORDED_FAILURES = 200;

export interface InboxCounters {
  received: number;
  /** Committed for the first time. */
  processed: number;
  /** Message id already in the inbox: effect skipped, accepted again. */
  duplicates: number;
  /** New message id whose change the handler found already applied: recorded, not repeated. */
  alreadyApplied: number;
  /** Poison: rejected to the dead-letter queue. */
  rejected: number;
  /** Transient failure: redelivered by the broker. */
  failed: number;
  /** Batch transactions committed. */
  batches: number;
  /** Batch transactions that failed, whose messages were then applied one at a time. */
  batchFallbacks: number;
  /** Times consumption paused because the database could not be reached. */
  pauses: number;
}

export interface InboxConsumerSettings {
  pool: pg.Pool;
  transport: Transport;
  /** Where messages come from (an Artemis queue of the group, a Kafka topic). */
  source: string;
  /** The consumer group: the inbox key's first half, and the receipts' group. */
  group: string;
  logger: Logger;
  /** Deliveries per batch transaction; 1 = one transaction per message. Default 1. */
  batchSize?: number;
  /** Upper bound on deliveries being processed at once. Default 32. */
  maxInFlight?: number;
  /** How long a batch waits for more deliveries while another batch runs. Default 5 ms. */
  lingerMs?: number;
  /** One receipt per committed batch to the producer's receipts destination, before the accepts. */
  receipts?: { destination: string; timeoutMs?: number };
  /** The name spans give the source (messaging.destination.name), e.g. the queue; default `source`. */
  destinationName?: string;
  /** True when the database answers (default: `select 1` on the pool); paused consumption polls it. */
  probe?: () => Promise<boolean>;
  /** Record failed attempts and skipped duplicates (default true). */
  records?: boolean;
  stopTimeoutMs?: number;
}

/**
 * The inbox consumer of one group: the transport's consumer (credit, batches, per-key order,
 * settlement, pause on a database outage) with the inbox's handling: a process span per delivery,
 * the batch processor (inbox rows + handlers in one transaction), receipts, counters, logs and the
 * failure/duplicate records. Accepted only after the transaction committed (and the receipt was
 * published), rejected when poison, retried when the failure is transient.
 */
export class InboxConsumer<D extends MessageVersions> {
  private readonly logger: Logger;
  private readonly consumer: TransportConsumer;
  private readonly receipts: ReceiptPublisher | undefined;
  private readonly process: ReturnType<typeof createInboxBatchProcessor<D>>;
  private readonly tally = {
    received: 0,
    processed: 0,
    duplicates: 0,
    alreadyApplied: 0,
    rejected: 0,
    failed: 0,
    batches: 0,
    batchFallbacks: 0,
  };
  private readonly failureRecords = new Set<Promise<void>>();
  private readonly unrecorded: FailureRecord[] = [];
  private droppedFailureRecords = 0;
  private resumes = 0;
  private stopped: Promise<void> | undefined;
  private readonly spanAttributes: Record<string, string>;

  constructor(
    private readonly settings: InboxConsumerSettings,
    private readonly tables: InboxTables,
    handlers: InboxHandlers<D>,
    ungrouped: () => boolean,
  ) {
    const { pool, transport, group, source } = settings;
    if (group.trim() === "" || group === "*")
      throw new Error(`invalid consumer group ${JSON.stringify(group)}`);
    const component = settings.logger.child({ component: "inbox-consumer" });
    this.logger = component.child({ source, group });
    this.spanAttributes = {
      "messaging.consumer.group.name": group,
      ...(transport.name === "artemis"
        ? { "messaging.system": "activemq" }
        : { "messaging.system": transport.name }),
    };
    this.receipts =
      settings.receipts === undefined
        ? undefined
        : transport.receiptPublisher({
            destination: settings.receipts.destination,
            name: `${group}-receipts`,
            sendTimeoutMs: settings.receipts.timeoutMs ?? 10_000,
          });
    const receipts = this.receipts;
    this.process = createInboxBatchProcessor<D>({
      pool,
      tables,
      group,
      handlers,
      ungrouped,
      ...(receipts !== undefined && settings.receipts !== undefined
        ? {
            afterCommit: (accepted) =>
              this.publishReceipt(receipts, settings.receipts?.destination ?? "", accepted),
          }
        : {}),
      onFallback: (messages, error) =>
        this.logger.info(
          { messages, error: describeError(error) },
          "batch transaction failed; applying its messages one at a time",
        ),
    });
    const probe = settings.probe ?? (() => pingDatabase(pool));
    this.consumer = transport.consumer<"event", InboxOutcome>({
      contract: "event",
      source,
      group,
      maxInFlight: settings.maxInFlight ?? 32,
      batchSize: settings.batchSize ?? 1,
      lingerMs: settings.lingerMs ?? 5,
      handle: (batch) => this.handle(batch),
      onUndecodable: (reason, messageId) => {
        this.tally.rejected += 1;
        this.record({ messageId, group, attempt: 1, kind: "poison", error: reason });
      },
      probe,
      onSettled: (outcome, message) => this.afterSettle(outcome, message.attempt),
      onResume: () => {
        this.resumes += 1;
        this.flushUnrecorded();
      },
      ...(settings.stopTimeoutMs !== undefined ? { stopTimeoutMs: settings.stopTimeoutMs } : {}),
    });
  }

  get counters(): InboxCounters {
    const { received, paused } = this.consumer.state();
    // Every pause ends in a resume, but the current one.
    return { ...this.tally, received, pauses: this.resumes + (paused ? 1 : 0) };
  }

  start(): void {
    this.receipts?.start();
    this.consumer.start();
  }

  state(): ReturnType<TransportConsumer["state"]> {
    return this.consumer.state();
  }

  /** Unhealthy while the consumer is not attached; degraded while paused by a database outage. */
  healthCheck(): HealthCheck {
    return () => {
      const state = this.consumer.state();
      // `queue`: the source under its destination name (what the receiver's health always said).
      const data = {
        queue: this.settings.destinationName ?? this.settings.source,
        group: this.settings.group,
        inFlight: state.inFlight,
        paused: state.paused,
        ...this.counters,
      };
      if (this.stopped !== undefined) return { status: "unhealthy", detail: "consumer stopped", data };
      if (!state.attached) {
        return { status: "unhealthy", detail: `consumer not attached to '${this.settings.source}'`, data };
      }
      if (state.paused) return { status: "degraded", detail: "paused after a transient failure", data };
      return { status: "healthy", data };
    };
  }

  /** Finishes or releases in-flight batches, lets failure records finish (bounded), closes the receipts. Idempotent. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      await this.consumer.stop();
      await settleWithin([...this.failureRecords], 500);
      await this.receipts?.close();
      this.logger.info({ ...this.counters }, "consumer stopped");
    })();
    return this.stopped;
  }

  /** One outcome per delivery, each delivery's work in its own process span. Never throws. */
  private async handle(batch: readonly InboundMessage<IncomingEnvelope>[]): Promise<InboxOutcome[]> {
    const spans = batch.map((message) =>
      startProcessSpan(
        tracer,
        message.trace,
        message.messageId,
        this.settings.destinationName ?? this.settings.source,
        this.spanAttributes,
      ),
    );
    const items: InboxBatchItem[] = batch.map((message, i) => {
      const active = spans[i]?.context;
      return { message, run: (work) => (active === undefined ? work() : context.with(active, work)) };
    });
    let outcomes: InboxOutcome[];
    try {
      const result = await this.process(items);
      // Counted in batch mode only: one transaction per message is not a batch.
      if ((this.settings.batchSize ?? 1) > 1) {
        if (result.fellBack) this.tally.batchFallbacks += 1;
        else this.tally.batches += 1;
      }
      outcomes = result.outcomes;
    } catch (error) {
      // The processor never throws; if it does, let the broker retry (and eventually dead-letter).
      const reason = `unexpected error: ${describeError(error)}`;
      outcomes = batch.map(() => ({ action: "retry", reason }));
    }
    batch.forEach((_, i) => {
      const span = spans[i]?.span;
      const outcome = outcomes[i];
      if (span !== undefined && outcome !== undefined) endSpan(span, outcome);
    });
    return outcomes;
  }

  /** One receipt for every accepted message, in the active (first message's) span. */
  private async publishReceipt(
    publisher: ReceiptPublisher,
    destination: string,
    accepted: readonly AcceptedOutcome[],
  ): Promise<void> {
    if (accepted.length === 0) return;
    const body = buildReceiptBody(
      this.settings.group,
      accepted.map(({ messageId, key, result }) => ({ messageId, aggregateId: key, result })),
      new Date(),
    );
    const messageIds = body.receipts.map((r) => r.messageId);
    const id = receiptId(this.settings.group, messageIds);
    const { span, traceHeaders } = startReceiptSendSpan(
      tracer,
      destination,
      id,
      messageIds.length,
      this.spanAttributes,
    );
    try {
      const outcome = await publisher.publish(id, body, traceHeaders);
      if (outcome.kind !== "accepted") {
        const why = "reason" in outcome ? `: ${outcome.reason}` : "";
        throw new Error(`receipt ${outcome.kind}${why}`);
      }
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: describeError(error) });
      throw error;
    } finally {
      span.end();
    }
  }

  /** Counters, logs and records of a settled delivery (the settlement itself is the transport's). */
  private afterSettle(outcome: InboxOutcome, attempt: number): void {
    const group = this.settings.group;
    switch (outcome.action) {
      case "accept": {
        const fields = { messageId: outcome.messageId, type: outcome.type, key: outcome.key, attempt };
        if (outcome.result === "applied") {
          this.tally.processed += 1;
          this.logger.debug(fields, "message applied");
        } else if (outcome.result === "duplicate") {
          this.tally.duplicates += 1;
          if (this.settings.records !== false) {
            recordDuplicate(this.settings.pool, this.tables, {
              messageId: outcome.messageId,
              group,
              deliveryCount: attempt - 1,
            }).catch(() => undefined);
          }
          this.logger.info(fields, "duplicate message skipped (already in the inbox)");
        } else {
          this.tally.alreadyApplied += 1;
          this.logger.warn(fields, "change already applied under another message id; effect not repeated");
        }
        return;
      }
      case "reject":
        this.tally.rejected += 1;
        this.logger.warn(
          { messageId: outcome.messageId, attempt, reason: outcome.reason },
          "poison message rejected to the dead-letter queue",
        );
        this.record({ messageId: outcome.messageId, group, attempt, kind: "poison", error: outcome.reason });
        return;
      case "retry":
        this.tally.failed += 1;
        this.logger.warn(
          { messageId: outcome.messageId, attempt, reason: outcome.reason },
          "transient failure; the broker will redeliver",
        );
        this.record({
          messageId: outcome.messageId,
          group,
          attempt,
          kind: "transient",
          error: outcome.reason,
        });
        return;
    }
  }

  /**
   * Best effort and bounded: failure records must never hold up or crash processing. Records that
   * could not be stored (typically: the database is the thing that failed) wait in a small buffer
   * and are written once the database answers again.
   */
  private record(failure: FailureRecord): void {
    if (this.settings.records === false) return;
    if (this.failureRecords.size >= MAX_PENDING_FAILURE_RECORDS) {
      this.keepForLater(failure);
      return;
    }
    let stored = false;
    const pending = recordFailure(this.settings.pool, this.tables, failure)
      .then(() => {
        stored = true;
      })
      .catch((error: unknown) => {
        this.logger.debug({ error: describeError(error) }, "could not record the delivery failure yet");
        this.keepForLater(failure);
      })
      .finally(() => {
        this.failureRecords.delete(pending);
        // The database answers: write one that waited because too many were pending at once (a
        // batch can reject many messages together), instead of leaving it until the next outage.
        const next = stored && !this.consumer.state().paused ? this.unrecorded.shift() : undefined;
        if (next !== undefined) this.record(next);
      });
    this.failureRecords.add(pending);
  }

  private keepForLater(failure: FailureRecord): void {
    if (this.unrecorded.length < MAX_UNRECORDED_FAILURES) this.unrecorded.push(failure);
    else this.droppedFailureRecords += 1;
  }

  private flushUnrecorded(): void {
    const backlog = this.unrecorded.splice(0);
    for (const failure of backlog) this.record(failure);
    if (this.droppedFailureRecords > 0) {
      this.logger.warn(
        { dropped: this.droppedFailureRecords },
        "some delivery failures could not be recorded",
      );
      this.droppedFailureRecords = 0;
    }
  }
}

function endSpan(span: Span, outcome: InboxOutcome): void {
  if (outcome.action === "accept") {
    if (outcome.result !== "applied") span.addEvent(`duplicate: ${outcome.result}`);
  } else {
    span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.reason.slice(0, 500) });
    span.setAttribute("messaging.outcome", outcome.action);
  }
  span.end();
}

async function pingDatabase(pool: pg.Pool): Promise<boolean> {
  try {
    await pool.query("SELECT 1");
    return true;
  } catch {
    return false;
  }
}

/** Waits for the promises, at most timeoutMs. */
async function settleWithin(promises: Promise<unknown>[], timeoutMs: number): Promise<void> {
  if (promises.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
  });
  try {
    await Promise.race([Promise.allSettled(promises), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
