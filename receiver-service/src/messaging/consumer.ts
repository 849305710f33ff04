import type { HealthCheck, Logger } from "@outbox/service-defaults";
import { BatchConsumer, messageGroup, type BatchDelivery } from "@outbox/messaging";
import type { Connection, Message } from "rhea";
import { endProcessSpan, startProcessSpan, type ProcessSpan } from "./consumer-span.js";
import type { DeliveryFailure } from "../data/queries.js";
import { describeError } from "./classify-error.js";
import type { BatchItem, BatchProcessor } from "./process-batch.js";
import type { MessageProcessor, Outcome } from "./process-message.js";

export interface ConsumerOptions {
  /** The service's rhea connection (from AmqpConnection); rhea reconnects it and re-attaches the link. */
  connection: Connection;
  queue: string;
  /** Upper bound on deliveries being processed at once (= link credit we ever grant). */
  maxInFlight: number;
  logger: Logger;
  process: MessageProcessor;
  /** Stores a failed attempt; run after settlement, never awaited by processing. */
  recordFailure?: (failure: DeliveryFailure) => Promise<void>;
  /**
   * True when what processing needs (the database) answers. After a transient failure the
   * consumer stops granting credit and polls this, so an outage does not burn every message's
   * delivery attempts and send the backlog to the DLQ.
   */
  probe?: () => Promise<boolean>;
  /** Stores a skipped duplicate delivery (best effort, never awaited by processing). */
  recordDuplicate?: (duplicate: {
    messageId: string;
    group?: string;
    deliveryCount: number;
  }) => Promise<void>;
  /** Upper bound for stop() to wait for in-flight handlers; default 4 s. */
  stopTimeoutMs?: number;
  /** Consumer group (the subscription) for logs and telemetry. */
  group?: string;
  /**
   * Process deliveries in batches (one transaction each) instead of one by one with `process`.
   * A batch holds at most min(maxSize, maxInFlight) deliveries; it is cut when full, at once when
   * no other batch is running (no added latency at low load), else after lingerMs.
   */
  batch?: { process: BatchProcessor; maxSize: number; lingerMs: number };
}

export interface ConsumerCounters {
  received: number;
  /** Committed for the first time. */
  processed: number;
  /** Message id already in the inbox: effect skipped, accepted again. */
  duplicates: number;
  /** New message id for an entity that already exists: recorded, effect not repeated. */
  alreadyApplied: number;
  /** Poison: rejected to the dead-letter address. */
  rejected: number;
  /** Transient failure: modified(delivery_failed), redelivered by the broker. */
  failed: number;
  /** Batch transactions committed. */
  batches: number;
  /** Batch transactions that failed, whose deliveries were then applied one at a time. */
  batchFallbacks: number;
  /** Times consumption paused because the database could not be reached. */
  pauses: number;
}

const MAX_PENDING_FAILURE_RECORDS = 32;
const MAX_UNRECORDED_FAILURES = 200;

/**
 * The receiver's inbox consumer: @outbox/messaging's BatchConsumer (credit, batches, per-group
 * order, settlement, pause on a database outage) with the receiver's handling: a process span per
 * delivery, the message or batch processor, counters, logs and failure/duplicate records.
 * Settlement: accepted only after the transaction committed, rejected when poison,
 * modified(delivery_failed) when the failure is transient.
 */
export class InboxConsumer {
  private readonly opts: ConsumerOptions;
  private readonly logger: Logger;
  private readonly consumer: BatchConsumer<Message, Outcome>;
  private readonly tally = {
    processed: 0,
    duplicates: 0,
    alreadyApplied: 0,
    rejected: 0,
    failed: 0,
    batches: 0,
    batchFallbacks: 0,
  };
  private readonly failureRecords = new Set<Promise<void>>();
  private readonly unrecorded: DeliveryFailure[] = [];
  private droppedFailureRecords = 0;

  constructor(opts: ConsumerOptions) {
    this.opts = opts;
    const component = opts.logger.child({ component: "consumer" });
    this.logger = component.child({ queue: opts.queue });
    this.consumer = new BatchConsumer<Message, Outcome>({
      connection: opts.connection,
      queue: opts.queue,
      capabilities: ["queue"],
      maxInFlight: opts.maxInFlight,
      // One by one is a batch of one: started at once, in the delivery's own process span.
      batchSize: opts.batch?.maxSize ?? 1,
      lingerMs: opts.batch?.lingerMs ?? 0,
      logger: component,
      handle: (batch) => this.handle(batch),
      // Artemis pins a group (aggregate id) to one consumer; running a group's deliveries in
      // arrival order here gives per-aggregate order.
      keyOf: messageGroup,
      ...(opts.probe !== undefined ? { probe: opts.probe } : {}),
      onSettled: (outcome, delivery) => this.afterSettle(outcome, delivery.attempt),
      onResume: () => this.flushUnrecorded(),
      ...(opts.stopTimeoutMs !== undefined ? { stopTimeoutMs: opts.stopTimeoutMs } : {}),
      // Failure records still being written get a moment before the link closes.
      sideWork: { pending: () => [...this.failureRecords], timeoutMs: 500 },
    });
  }

  get counters(): ConsumerCounters {
    const { received, pauses } = this.consumer.state();
    return { received, ...this.tally, pauses };
  }

  /** Attaches the receiver; credit is granted once the broker confirms the link. */
  start(): void {
    this.consumer.start();
  }

  isAttached(): boolean {
    return this.consumer.state().attached;
  }

  /** Unhealthy while the link is not attached: the receiver cannot do its job without it. */
  healthCheck(): HealthCheck {
    return () => {
      const state = this.consumer.state();
      const data = {
        queue: this.opts.queue,
        inFlight: state.inFlight,
        paused: state.paused,
        ...this.counters,
      };
      if (state.stopping) return { status: "unhealthy", detail: "consumer stopped", data };
      if (!state.attached) {
        return { status: "unhealthy", detail: `consumer not attached to queue '${this.opts.queue}'`, data };
      }
      if (state.paused) return { status: "degraded", detail: "paused after a transient failure", data };
      return { status: "healthy", data };
    };
  }

  /**
   * Stops granting credit, waits (bounded) for in-flight handlers to settle, then detaches.
   * Deliveries still unsettled after the timeout go back to the queue when the link closes.
   */
  async stop(): Promise<void> {
    await this.consumer.stop();
    this.logger.info({ ...this.counters }, "consumer stopped");
  }

  /** One outcome per delivery, each delivery's work in its own process span. Never throws. */
  private async handle(batch: readonly BatchDelivery<Message>[]): Promise<Outcome[]> {
    const spans = batch.map(({ message }) => startProcessSpan(message, this.opts.queue, this.opts.group));
    let outcomes: Outcome[];
    try {
      outcomes = await this.process(batch, spans);
    } catch (error) {
      // The processor should never throw; if it does, let the broker retry (and eventually DLQ).
      const reason = `unexpected error: ${describeError(error)}`;
      outcomes = batch.map(() => ({ action: "retry", reason }));
    }
    batch.forEach((_, i) => {
      const span = spans[i];
      const outcome = outcomes[i];
      if (span !== undefined && outcome !== undefined) endProcessSpan(span, outcome);
    });
    return outcomes;
  }

  private async process(
    batch: readonly BatchDelivery<Message>[],
    spans: readonly ProcessSpan[],
  ): Promise<Outcome[]> {
    const processBatch = this.opts.batch?.process;
    const [only] = batch;
    const [span] = spans;
    if (processBatch === undefined) {
      if (only === undefined || span === undefined) return [];
      return [await span.run(() => this.opts.process(only.message))];
    }
    const items: BatchItem[] = batch.map(({ message }, i) => ({
      message,
      run: (work) => (spans[i] ?? startProcessSpan(message, this.opts.queue, this.opts.group)).run(work),
    }));
    const result = await processBatch(items);
    if (result.fellBack) this.tally.batchFallbacks += 1;
    else this.tally.batches += 1;
    return result.outcomes;
  }

  /** Counters, logs and records of a settled delivery (the settlement itself is the library's). */
  private afterSettle(outcome: Outcome, attempt: number): void {
    switch (outcome.action) {
      case "accept": {
        const { event, result } = outcome;
        const fields = {
          messageId: event.messageId,
          type: event.type,
          aggregateId: event.aggregateId,
          attempt,
        };
        if (result === "applied") {
          this.tally.processed += 1;
          this.logger.debug(fields, "message applied");
        } else if (result === "duplicate") {
          this.tally.duplicates += 1;
          this.opts
            .recordDuplicate?.({
              messageId: event.messageId,
              ...(this.opts.group !== undefined ? { group: this.opts.group } : {}),
              deliveryCount: attempt - 1,
            })
            .catch(() => undefined);
          this.logger.info(fields, "duplicate message skipped (already in the inbox)");
        } else {
          this.tally.alreadyApplied += 1;
          this.logger.warn(fields, "entity already received under another message id; effect not repeated");
        }
        return;
      }
      case "reject": {
        this.tally.rejected += 1;
        this.logger.warn(
          { messageId: outcome.messageId, attempt, reason: outcome.reason },
          "poison message rejected to the dead-letter address",
        );
        this.record({ messageId: outcome.messageId, attempt, kind: "poison", error: outcome.reason });
        return;
      }
      case "retry": {
        this.tally.failed += 1;
        this.logger.warn(
          { messageId: outcome.messageId, attempt, reason: outcome.reason },
          "transient failure; the broker will redeliver",
        );
        // Only an unreachable database (databaseUnavailable) pauses the consumer: a version gap or
        // a failed receipt gets its redelivery while the other aggregates' messages keep flowing.
        this.record({ messageId: outcome.messageId, attempt, kind: "transient", error: outcome.reason });
        return;
      }
    }
  }

  /**
   * Best effort and bounded: failure records must never hold up or crash processing. Records that
   * could not be stored (typically: the database is the thing that failed) wait in a small buffer
   * and are written once the database answers again.
   */
  private record(failure: DeliveryFailure): void {
    const store = this.opts.recordFailure;
    if (store === undefined) return;
    if (this.opts.group !== undefined) failure = { ...failure, group: this.opts.group };
    if (this.failureRecords.size >= MAX_PENDING_FAILURE_RECORDS) {
      this.keepForLater(failure);
      return;
    }
    let stored = false;
    const pending = store(failure)
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

  private keepForLater(failure: DeliveryFailure): void {
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
