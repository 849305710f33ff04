import type { HealthCheck, Logger } from "@outbox/service-defaults";
import type { Connection, Delivery, EventContext, Message, Receiver } from "rhea";
import { endProcessSpan, startProcessSpan } from "./consumer-span.js";
import type { DeliveryFailure } from "../data/queries.js";
import { describeError } from "./classify-error.js";
import type { BatchItem, BatchProcessor } from "./process-batch.js";
import type { MessageProcessor, Outcome } from "./process-message.js";
import { settleAlone } from "./settle-alone.js";

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

/** A delivery waiting in a batch being formed. */
interface Pending {
  delivery: Delivery;
  message: Message;
  generation: number;
}

/** rhea tracks outstanding link credit on the receiver but leaves it out of its typings. */
type ReceiverWithCredit = Receiver & { credit: number };

const REJECT_CONDITION = "amqp:decode-error";
const MAX_PENDING_FAILURE_RECORDS = 32;
const MAX_UNRECORDED_FAILURES = 200;
const PROBE_DELAY_MS = { initial: 500, max: 10_000 };
const REATTACH_DELAY_MS = { initial: 1_000, max: 30_000 };

/**
 * Consumes the queue with bounded concurrency and explicit settlement:
 * credit_window 0 + manual credit so at most maxInFlight deliveries are unsettled; each one is
 * accepted only after its transaction committed, rejected when poison, modified(delivery_failed)
 * when the failure is transient.
 */
export class InboxConsumer {
  readonly counters: ConsumerCounters = {
    received: 0,
    processed: 0,
    duplicates: 0,
    alreadyApplied: 0,
    rejected: 0,
    failed: 0,
    batches: 0,
    batchFallbacks: 0,
    pauses: 0,
  };

  private readonly opts: ConsumerOptions;
  private readonly logger: Logger;
  private receiver: ReceiverWithCredit | undefined;
  private inFlight = 0;
  private readonly handlers = new Set<Promise<void>>();
  /**
   * Last handler of each message group (AMQP group_id = aggregate id) still running or queued:
   * a group's deliveries run one after another, in arrival order, while other groups run in
   * parallel. Artemis pins a group to one consumer, so this gives per-aggregate order.
   */
  private readonly groupTails = new Map<string, Promise<void>>();
  private readonly failureRecords = new Set<Promise<void>>();
  private readonly unrecorded: DeliveryFailure[] = [];
  private droppedFailureRecords = 0;
  /** Bumped on every disconnect or link loss: a settlement for a delivery from before is lost. */
  private generation = 0;
  private paused = false;
  private probeTimer: NodeJS.Timeout | undefined;
  private reattachTimer: NodeJS.Timeout | undefined;
  private reattachDelayMs = REATTACH_DELAY_MS.initial;
  private started = false;
  private stopping: Promise<void> | undefined;
  /** The batch being formed (batch mode), and the timer that cuts it. */
  private forming: Pending[] = [];
  /** Cancels the pending cut of the forming batch (a timeout or an immediate), when one is set. */
  private cancelCut: (() => void) | undefined;
  private runningBatches = 0;

  constructor(opts: ConsumerOptions) {
    this.opts = opts;
    this.logger = opts.logger.child({ component: "consumer", queue: opts.queue });
  }

  /** Attaches the receiver; credit is granted once the broker confirms the link. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.opts.connection.on("disconnected", this.onDisconnected);
    this.attach();
  }

  isAttached(): boolean {
    const r = this.receiver;
    return r !== undefined && r.is_open() && r.is_remote_open();
  }

  /** Unhealthy while the link is not attached: the receiver cannot do its job without it. */
  healthCheck(): HealthCheck {
    return () => {
      const data = { queue: this.opts.queue, inFlight: this.inFlight, paused: this.paused, ...this.counters };
      if (this.stopping !== undefined) return { status: "unhealthy", detail: "consumer stopped", data };
      if (!this.isAttached()) {
        return { status: "unhealthy", detail: `consumer not attached to queue '${this.opts.queue}'`, data };
      }
      if (this.paused) return { status: "degraded", detail: "paused after a transient failure", data };
      return { status: "healthy", data };
    };
  }

  /**
   * Stops granting credit, waits (bounded) for in-flight handlers to settle, then detaches.
   * Deliveries still unsettled after the timeout go back to the queue when the link closes.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    clearTimeout(this.probeTimer);
    clearTimeout(this.reattachTimer);
    this.opts.connection.removeListener("disconnected", this.onDisconnected);
    // Deliveries already taken into a batch are processed, like any other in-flight delivery.
    this.cutBatch();
    const timeoutMs = this.opts.stopTimeoutMs ?? 4_000;
    if (!(await settleWithin([...this.handlers], timeoutMs))) {
      this.logger.warn(
        { inFlight: this.inFlight },
        "deliveries still in flight at stop; the broker will redeliver them",
      );
    }
    await settleWithin([...this.failureRecords], 500);
    const receiver = this.receiver;
    if (receiver !== undefined && receiver.is_open()) {
      const closed = new Promise<void>((resolve) => receiver.once("receiver_close", () => resolve()));
      receiver.close();
      if (this.opts.connection.is_open()) await settleWithin([closed], 1_000);
    }
    this.logger.info({ ...this.counters }, "consumer stopped");
  }

  private attach(): void {
    const receiver = this.opts.connection.open_receiver({
      source: { address: this.opts.queue, capabilities: ["queue"] },
      autoaccept: false,
      // No automatic top-up: rhea would refill credit on receipt, not on settlement, and the
      // number of unsettled deliveries would be unbounded.
      credit_window: 0,
    }) as ReceiverWithCredit;
    this.receiver = receiver;
    // Fires on the first attach and again after every reconnect (rhea re-attaches the link with
    // zero credit): grant credit each time or the link stays silent.
    receiver.on("receiver_open", () => {
      this.reattachDelayMs = REATTACH_DELAY_MS.initial;
      this.logger.info({ inFlight: this.inFlight }, "consumer attached");
      this.topUp();
    });
    receiver.on("message", (ctx: EventContext) => this.onMessage(ctx));
    receiver.on("receiver_error", () => {
      this.logger.warn({ error: describeAmqpError(receiver.error) }, "broker closed the consumer link");
    });
    receiver.on("receiver_close", () => {
      if (this.stopping !== undefined || this.receiver !== receiver) return;
      // Deliveries of this link can no longer be settled; the broker already took them back.
      this.generation += 1;
      // A link the broker detached (e.g. queue missing) is not re-attached by rhea: do it ourselves.
      const delay = this.reattachDelayMs;
      this.reattachDelayMs = Math.min(delay * 2, REATTACH_DELAY_MS.max);
      this.logger.warn({ delayMs: delay }, "consumer link closed; re-attaching");
      this.reattachTimer = setTimeout(() => {
        this.reattachTimer = undefined;
        if (this.stopping === undefined) this.attach();
      }, delay);
    });
  }

  private readonly onDisconnected = (): void => {
    this.generation += 1;
    if (this.inFlight > 0) {
      this.logger.warn(
        { inFlight: this.inFlight },
        "connection lost with deliveries in flight; their outcomes cannot reach the broker, which redelivers them (the inbox skips what already committed)",
      );
    }
  };

  /** Grants credit up to maxInFlight minus what is in flight and what is already granted. */
  private topUp(): void {
    if (this.stopping !== undefined || this.paused) return;
    const receiver = this.receiver;
    if (receiver === undefined || !receiver.is_open() || !receiver.is_remote_open()) return;
    const wanted = this.opts.maxInFlight - this.inFlight - receiver.credit;
    if (wanted > 0) receiver.add_credit(wanted);
  }

  private onMessage(ctx: EventContext): void {
    const { delivery, message } = ctx;
    if (delivery === undefined || message === undefined) return;
    if (this.stopping !== undefined) {
      // Arrived on credit granted before stop(): hand it back without counting an attempt.
      delivery.release();
      return;
    }
    this.counters.received += 1;
    this.inFlight += 1;
    const generation = this.generation;
    if (this.opts.batch !== undefined) {
      this.addToBatch({ delivery, message, generation }, this.opts.batch);
      return;
    }
    const run = (): Promise<void> => this.handle(delivery, message, generation);
    const group = groupOf(message);
    const previous = group === undefined ? undefined : this.groupTails.get(group);
    // A queued delivery still counts as in flight: the credit bound covers waiting work too.
    const handler = (previous === undefined ? run() : previous.then(run, run)).finally(() => {
      this.inFlight -= 1;
      this.handlers.delete(handler);
      if (group !== undefined && this.groupTails.get(group) === handler) this.groupTails.delete(group);
      this.topUp();
    });
    if (group !== undefined) this.groupTails.set(group, handler);
    this.handlers.add(handler);
  }

  private addToBatch(pending: Pending, batch: NonNullable<ConsumerOptions["batch"]>): void {
    this.forming.push(pending);
    if (this.forming.length >= Math.min(batch.maxSize, this.opts.maxInFlight)) {
      this.cutBatch();
      return;
    }
    if (this.cancelCut !== undefined) return;
    // Nothing running: cut after the deliveries that arrived together (same I/O turn) joined.
    // Otherwise linger: the running batches' commits are the time to gather more.
    if (this.runningBatches === 0) {
      const immediate = setImmediate(() => this.cutBatch());
      this.cancelCut = () => clearImmediate(immediate);
    } else {
      const timer = setTimeout(() => this.cutBatch(), batch.lingerMs);
      this.cancelCut = () => clearTimeout(timer);
    }
  }

  /**
   * Starts the formed batch once the earlier work of each of its message groups is done: batches
   * sharing an aggregate run one after another, in arrival order; others run in parallel.
   */
  private cutBatch(): void {
    this.cancelCut?.();
    this.cancelCut = undefined;
    const batch = this.forming;
    if (batch.length === 0) return;
    this.forming = [];
    const groups = new Set<string>();
    for (const { message } of batch) {
      const group = groupOf(message);
      if (group !== undefined) groups.add(group);
    }
    const previous = [...groups].flatMap((group) => {
      const tail = this.groupTails.get(group);
      return tail === undefined ? [] : [tail];
    });
    const run = (): Promise<void> => this.handleBatch(batch);
    const handler = (previous.length === 0 ? run() : Promise.allSettled(previous).then(run)).finally(() => {
      this.inFlight -= batch.length;
      this.handlers.delete(handler);
      for (const group of groups) if (this.groupTails.get(group) === handler) this.groupTails.delete(group);
      this.topUp();
    });
    for (const group of groups) this.groupTails.set(group, handler);
    this.handlers.add(handler);
  }

  private async handleBatch(batch: Pending[]): Promise<void> {
    const process = this.opts.batch?.process;
    if (process === undefined) return;
    this.runningBatches += 1;
    const spans = batch.map(({ message }) => startProcessSpan(message, this.opts.queue, this.opts.group));
    const items: BatchItem[] = batch.map(({ message }, i) => ({
      message,
      run: (work) => (spans[i] ?? startProcessSpan(message, this.opts.queue, this.opts.group)).run(work),
    }));
    let outcomes: Outcome[];
    try {
      const result = await process(items);
      outcomes = result.outcomes;
      if (result.fellBack) this.counters.batchFallbacks += 1;
      else this.counters.batches += 1;
    } catch (error) {
      // The processor should never throw; if it does, let the broker retry (and eventually DLQ).
      const reason = `unexpected error: ${describeError(error)}`;
      outcomes = batch.map(() => ({ action: "retry", reason }));
    } finally {
      this.runningBatches -= 1;
    }
    // The accepts go together; every other outcome is settled in a tick of its own (settle-alone.ts).
    const later: Array<() => void> = [];
    batch.forEach(({ delivery, message, generation }, i) => {
      const outcome = outcomes[i] ?? { action: "retry", reason: "no outcome for this delivery" };
      const span = spans[i];
      if (span !== undefined) endProcessSpan(span, outcome);
      if (generation !== this.generation) {
        // See handle(): the broker redelivers; what committed is a duplicate then.
        this.logger.debug(
          { messageId: outcomeMessageId(outcome), action: outcome.action },
          "settlement lost to a reconnect",
        );
      }
      const settle = (): void => this.settle(delivery, outcome, (message.delivery_count ?? 0) + 1);
      if (outcome.action === "accept") settle();
      else later.push(settle);
    });
    for (const settle of later) await settleAlone(settle);
  }

  private async handle(delivery: Delivery, message: Message, generation: number): Promise<void> {
    let outcome: Outcome;
    const span = startProcessSpan(message, this.opts.queue, this.opts.group);
    try {
      outcome = await span.run(() => this.opts.process(message));
    } catch (error) {
      // The processor should never throw; if it does, let the broker retry (and eventually DLQ).
      outcome = { action: "retry", reason: `unexpected error: ${describeError(error)}` };
    }
    endProcessSpan(span, outcome);
    // AMQP delivery-count = earlier failed attempts, so this is the 1-based attempt number.
    const attempt = (message.delivery_count ?? 0) + 1;
    if (generation !== this.generation) {
      // The accept/modify below goes nowhere: rhea silently drops settlements for deliveries of a
      // previous connection. The broker redelivers the message; if we committed, the inbox row
      // turns the redelivery into a duplicate, so nothing is applied twice.
      this.logger.debug(
        { messageId: outcomeMessageId(outcome), action: outcome.action },
        "settlement lost to a reconnect",
      );
    }
    // Other handlers may settle in this same tick: only accepts may share it (settle-alone.ts).
    if (outcome.action === "accept") this.settle(delivery, outcome, attempt);
    else await settleAlone(() => this.settle(delivery, outcome, attempt));
  }

  private settle(delivery: Delivery, outcome: Outcome, attempt: number): void {
    switch (outcome.action) {
      case "accept": {
        delivery.accept();
        const { event, result } = outcome;
        const fields = {
          messageId: event.messageId,
          type: event.type,
          aggregateId: event.aggregateId,
          attempt,
        };
        if (result === "applied") {
          this.counters.processed += 1;
          this.logger.debug(fields, "message applied");
        } else if (result === "duplicate") {
          this.counters.duplicates += 1;
          this.opts
            .recordDuplicate?.({
              messageId: event.messageId,
              ...(this.opts.group !== undefined ? { group: this.opts.group } : {}),
              deliveryCount: attempt - 1,
            })
            .catch(() => undefined);
          this.logger.info(fields, "duplicate message skipped (already in the inbox)");
        } else {
          this.counters.alreadyApplied += 1;
          this.logger.warn(fields, "entity already received under another message id; effect not repeated");
        }
        return;
      }
      case "reject": {
        delivery.reject({ condition: REJECT_CONDITION, description: outcome.reason.slice(0, 1000) });
        this.counters.rejected += 1;
        this.logger.warn(
          { messageId: outcome.messageId, attempt, reason: outcome.reason },
          "poison message rejected to the dead-letter address",
        );
        this.record({ messageId: outcome.messageId, attempt, kind: "poison", error: outcome.reason });
        return;
      }
      case "retry": {
        // Not release(): a released delivery is redelivered at once without counting an attempt,
        // so a message that always fails would loop forever instead of reaching the DLQ.
        delivery.modified({ delivery_failed: true });
        this.counters.failed += 1;
        this.logger.warn(
          { messageId: outcome.messageId, attempt, reason: outcome.reason },
          "transient failure; the broker will redeliver",
        );
        this.record({ messageId: outcome.messageId, attempt, kind: "transient", error: outcome.reason });
        // Only an unreachable database stops the consumer: a version gap or a failed receipt gets
        // its redelivery while the other aggregates' messages keep flowing.
        if (outcome.databaseUnavailable === true) this.pause();
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
        const next = stored && !this.paused ? this.unrecorded.shift() : undefined;
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

  private pause(): void {
    if (this.opts.probe === undefined || this.paused || this.stopping !== undefined) return;
    this.paused = true;
    this.counters.pauses += 1;
    this.logger.warn("pausing consumption until the database answers");
    this.scheduleProbe(PROBE_DELAY_MS.initial);
  }

  private scheduleProbe(delayMs: number): void {
    this.probeTimer = setTimeout(() => void this.runProbe(delayMs), delayMs);
  }

  private async runProbe(delayMs: number): Promise<void> {
    this.probeTimer = undefined;
    const probe = this.opts.probe;
    if (probe === undefined || this.stopping !== undefined) return;
    const ok = await probe().catch(() => false);
    if (this.stopping !== undefined) return;
    if (!ok) {
      this.scheduleProbe(Math.min(delayMs * 2, PROBE_DELAY_MS.max));
      return;
    }
    this.paused = false;
    this.logger.info("database answers again; resuming consumption");
    this.flushUnrecorded();
    this.topUp();
  }
}

/** The AMQP group id (our sender sets the aggregate id), when there is one. */
function groupOf(message: Message): string | undefined {
  const group = message.group_id;
  return typeof group === "string" && group !== "" ? group : undefined;
}

function outcomeMessageId(outcome: Outcome): string | undefined {
  return outcome.action === "accept" ? outcome.event.messageId : outcome.messageId;
}

function describeAmqpError(error: unknown): string {
  if (error === undefined || error === null) return "no error given";
  if (typeof error === "object") {
    const { condition, description, message } = error as {
      condition?: unknown;
      description?: unknown;
      message?: unknown;
    };
    const text = typeof description === "string" ? description : typeof message === "string" ? message : "";
    if (typeof condition === "string") return text === "" ? condition : `${condition}: ${text}`;
    if (text !== "") return text;
  }
  return typeof error === "string" ? error : "unknown error";
}

/** True when every promise settled within timeoutMs. */
async function settleWithin(promises: Promise<unknown>[], timeoutMs: number): Promise<boolean> {
  if (promises.length === 0) return true;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([Promise.allSettled(promises).then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
