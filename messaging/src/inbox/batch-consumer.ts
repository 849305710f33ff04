import type { Logger } from "../logger.js";
import type { Connection, Delivery, EventContext, Message, Receiver } from "rhea";
import { settleAlone } from "./settle-alone.js";

/**
 * What to tell the broker about one delivery.
 * - accept: done (committed now or before);
 * - reject: poison, the broker dead-letters it at once;
 * - retry: modified(delivery_failed), the broker redelivers it after its redelivery delay and
 *   counts an attempt; `databaseUnavailable` also pauses consumption until the probe answers;
 * - release: handed back uncounted (only for work this consumer gives up without trying);
 * - hold: the database could not be reached; keep the delivery unsettled (the broker neither
 *   counts an attempt nor hands it out again), pause, and run it again once the probe answers.
 *   Released when the consumer stops first. Without a probe, hold is settled as a retry.
 */
export type Settlement =
  | { action: "accept" }
  | { action: "reject"; reason: string }
  | { action: "retry"; reason: string; databaseUnavailable?: boolean }
  | { action: "release" }
  | { action: "hold"; reason: string };

/** One delivery handed to the handler. */
export interface BatchDelivery<T> {
  /** The AMQP message as received. */
  message: Message;
  /** What `decode` made of it (the message itself without a decoder). */
  value: T;
  /** 1-based attempt number (AMQP delivery-count + 1). */
  attempt: number;
}

export interface BatchContext {
  /** Aborted once the consumer stops: give up work not started yet (answer release). */
  signal: AbortSignal;
}

/**
 * The service's part: handle this batch (typically in one transaction) and say what became of each
 * delivery, one outcome per delivery in the same order. Should never throw; if it does, every
 * delivery of the batch is retried.
 */
export type BatchHandler<T, O extends Settlement> = (
  batch: readonly BatchDelivery<T>[],
  context: BatchContext,
) => Promise<readonly O[]>;

export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: string };

export interface BatchConsumerOptions<T, O extends Settlement> {
  /** A rhea connection; rhea reconnects it and re-attaches the link. */
  connection: Connection;
  queue: string;
  /** Source capabilities of the link (e.g. ["queue"] for an anycast queue). */
  capabilities?: string[];
  /** Upper bound on deliveries being processed at once (= link credit ever granted). */
  maxInFlight: number;
  /**
   * Deliveries per batch, at most (and at most maxInFlight); 1 = one at a time. A batch is cut
   * when full, at once when no other batch is running (no added latency at low load), else after
   * lingerMs.
   */
  batchSize: number;
  lingerMs: number;
  logger: Logger;
  handle: BatchHandler<T, O>;
  /**
   * Reads a delivery on arrival; one it cannot read is rejected at once (dead-lettered) and never
   * reaches a batch nor counts as in flight. Without it every delivery goes to the handler.
   */
  decode?: (message: Message) => Decoded<T>;
  /**
   * The ordering key of a delivery (e.g. the AMQP group id): batches sharing a key run one after
   * another, in arrival order; others run in parallel. Without it batches never wait for each other.
   */
  keyOf?: (message: Message) => string | undefined;
  /**
   * True when what handling needs (the database) answers. Paused consumption (no new credit)
   * polls it with backoff and resumes when it says true. Without it the consumer never pauses.
   */
  probe?: () => Promise<boolean>;
  /**
   * True: a batch formed while paused waits for the resume before it runs (deliveries taken
   * before the pause are kept, not tried against a database known to be down). False: it runs.
   */
  waitWhilePaused?: boolean;
  /** Told of every settlement made from a handler outcome, right after it was made. */
  onSettled?: (outcome: O, delivery: BatchDelivery<T>) => void;
  /** Told when consumption resumes after a pause. */
  onResume?: () => void;
  /** stop()'s budget for in-flight batches; default 4 s. */
  stopTimeoutMs?: number;
  /**
   * Side work of the service (e.g. failure records being written) that stop() waits for, at most
   * timeoutMs, after the in-flight batches and before the detach.
   */
  sideWork?: { pending: () => readonly Promise<unknown>[]; timeoutMs: number };
  /** When stop()'s budget runs out: release what is still unsettled (else the link close returns it). */
  releaseOnStopTimeout?: boolean;
  /** How long stop() waits for the broker to confirm the detach; 0: not at all. Default 1 s. */
  detachTimeoutMs?: number;
}

export interface BatchConsumerState {
  attached: boolean;
  paused: boolean;
  stopping: boolean;
  inFlight: number;
  /** Deliveries taken (undecodable ones included). */
  received: number;
  /** Undecodable deliveries rejected on arrival. */
  undecodable: number;
  /** Times consumption paused because the probe's dependency failed. */
  pauses: number;
  /** Probes run while paused. */
  probes: number;
}

/** A delivery taken from the broker and not settled yet. */
interface Pending<T> {
  delivery: Delivery;
  item: BatchDelivery<T>;
  /** The connection generation it arrived in (see `generation`). */
  generation: number;
}

/** rhea tracks outstanding link credit on the receiver but leaves it out of its typings. */
type ReceiverWithCredit = Receiver & { credit: number };

const REJECT_CONDITION = "amqp:decode-error";
const PROBE_DELAY_MS = { initial: 500, max: 10_000 };
const REATTACH_DELAY_MS = { initial: 1_000, max: 30_000 };

/**
 * Consumes a queue with bounded credit, in batches, with explicit settlement:
 * credit_window 0 + manual credit, so at most maxInFlight deliveries are ever unsettled; each is
 * settled from the handler's outcome (accepts together, every other outcome alone, settle-alone.ts);
 * a database outage pauses the credit until the probe answers; the link is re-attached when the
 * broker detaches it. Generic over what a delivery decodes to: the service brings the handling.
 */
export class BatchConsumer<T, O extends Settlement> {
  private readonly opts: BatchConsumerOptions<T, O>;
  private readonly logger: Logger;
  private receiver: ReceiverWithCredit | undefined;
  private inFlight = 0;
  private received = 0;
  private undecodable = 0;
  private pauses = 0;
  private probes = 0;
  private readonly handlers = new Set<Promise<void>>();
  /** Last batch of each key still running or queued: a key's batches run in arrival order. */
  private readonly keyTails = new Map<string, Promise<void>>();
  /** Bumped on every disconnect or link loss: a settlement for a delivery from before is lost. */
  private generation = 0;
  private paused = false;
  private probeTimer: NodeJS.Timeout | undefined;
  private reattachTimer: NodeJS.Timeout | undefined;
  private reattachDelayMs = REATTACH_DELAY_MS.initial;
  private readonly resumeWaiters = new Set<(resumed: boolean) => void>();
  private started = false;
  private readonly stopSignal = new AbortController();
  private stopping: Promise<void> | undefined;
  private forming: Pending<T>[] = [];
  /** Cancels the pending cut of the forming batch (a timeout or an immediate), when one is set. */
  private cancelCut: (() => void) | undefined;
  private runningBatches = 0;
  /** Taken and not settled yet: every delivery is settled once, whoever comes first. */
  private readonly unsettled = new Set<Pending<T>>();

  constructor(opts: BatchConsumerOptions<T, O>) {
    if (!Number.isInteger(opts.maxInFlight) || opts.maxInFlight < 1) {
      throw new Error(`maxInFlight must be a positive integer, got ${opts.maxInFlight}`);
    }
    if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) {
      throw new Error(`batchSize must be a positive integer, got ${opts.batchSize}`);
    }
    this.opts = opts;
    this.logger = opts.logger;
  }

  /** Attaches the receiver; credit is granted once the broker confirms the link. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.opts.connection.on("disconnected", this.onDisconnected);
    this.attach();
  }

  state(): BatchConsumerState {
    const r = this.receiver;
    return {
      attached: r !== undefined && r.is_open() && r.is_remote_open(),
      paused: this.paused,
      stopping: this.stopping !== undefined,
      inFlight: this.inFlight,
      received: this.received,
      undecodable: this.undecodable,
      pauses: this.pauses,
      probes: this.probes,
    };
  }

  /**
   * Stops granting credit, wakes batches waiting for a resume (they release their deliveries),
   * waits (bounded) for running batches to settle, then detaches. Idempotent.
   */
  stop(timeoutMs = this.opts.stopTimeoutMs ?? 4_000): Promise<void> {
    this.stopping ??= this.shutdown(timeoutMs);
    return this.stopping;
  }

  private async shutdown(timeoutMs: number): Promise<void> {
    this.stopSignal.abort();
    clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
    clearTimeout(this.reattachTimer);
    this.opts.connection.removeListener("disconnected", this.onDisconnected);
    this.wakeResumeWaiters(false);
    // Deliveries already taken into a batch are handled, like any other in-flight delivery.
    this.cutBatch();
    if (!(await settleWithin([...this.handlers], timeoutMs))) {
      if (this.opts.releaseOnStopTimeout === true) {
        this.logger.warn(
          { queue: this.opts.queue, unsettled: this.unsettled.size, budgetMs: timeoutMs },
          "consumer stopped with deliveries still being handled; released them",
        );
        // All releases: settling them in one tick is safe (one outcome for the whole range).
        for (const pending of [...this.unsettled]) this.settle(pending, { action: "release" });
      } else {
        this.logger.warn(
          { queue: this.opts.queue, inFlight: this.inFlight },
          "deliveries still in flight at stop; the broker will redeliver them",
        );
      }
    }
    const side = this.opts.sideWork;
    if (side !== undefined) await settleWithin([...side.pending()], side.timeoutMs);
    await this.detach();
  }

  /** Closes the link, waiting at most detachTimeoutMs for the broker's answer. */
  private async detach(): Promise<void> {
    const receiver = this.receiver;
    if (receiver === undefined || !receiver.is_open()) return;
    const timeoutMs = this.opts.detachTimeoutMs ?? 1_000;
    const closed = new Promise<void>((resolve) => receiver.once("receiver_close", () => resolve()));
    receiver.close();
    if (timeoutMs > 0 && this.opts.connection.is_open()) await settleWithin([closed], timeoutMs);
  }

  private attach(): void {
    const receiver = this.opts.connection.open_receiver({
      source: {
        address: this.opts.queue,
        ...(this.opts.capabilities !== undefined ? { capabilities: this.opts.capabilities } : {}),
      },
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
      this.logger.info({ queue: this.opts.queue, inFlight: this.inFlight }, "consumer attached");
      this.topUp();
    });
    receiver.on("message", (ctx: EventContext) => this.onMessage(ctx));
    receiver.on("receiver_error", () => {
      this.logger.warn(
        { queue: this.opts.queue, error: describeAmqpError(receiver.error) },
        "broker closed the consumer link",
      );
    });
    receiver.on("receiver_close", () => {
      if (this.stopping !== undefined || this.receiver !== receiver) return;
      // Deliveries of this link can no longer be settled; the broker already took them back.
      this.generation += 1;
      // A link the broker detached (e.g. queue missing) is not re-attached by rhea: do it ourselves.
      const delay = this.reattachDelayMs;
      this.reattachDelayMs = Math.min(delay * 2, REATTACH_DELAY_MS.max);
      this.logger.warn({ queue: this.opts.queue, delayMs: delay }, "consumer link closed; re-attaching");
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
        { queue: this.opts.queue, inFlight: this.inFlight },
        "connection lost with deliveries in flight; their outcomes cannot reach the broker, which redelivers them",
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
    this.received += 1;
    let value: T;
    if (this.opts.decode === undefined) {
      value = message as T;
    } else {
      const decoded = this.opts.decode(message);
      if (!decoded.ok) {
        // Alone in its tick, like every other non-accept (settle-alone.ts): several poison arrivals
        // rejected in one tick went out as one disposition range, and one of them now and then
        // stayed unsettled on the broker (seen: 249 of 250 dead-lettered).
        const reason = decoded.reason.slice(0, 1000);
        void settleAlone(() => delivery.reject({ condition: REJECT_CONDITION, description: reason }));
        this.undecodable += 1;
        this.logger.warn(
          { queue: this.opts.queue, messageId: message.message_id, reason: decoded.reason },
          "undecodable message rejected",
        );
        this.topUp();
        return;
      }
      value = decoded.value;
    }
    this.inFlight += 1;
    // AMQP delivery-count = earlier failed attempts, so this is the 1-based attempt number.
    const item: BatchDelivery<T> = { message, value, attempt: (message.delivery_count ?? 0) + 1 };
    const pending: Pending<T> = { delivery, item, generation: this.generation };
    this.unsettled.add(pending);
    this.forming.push(pending);
    if (this.forming.length >= Math.min(this.opts.batchSize, this.opts.maxInFlight)) {
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
      const timer = setTimeout(() => this.cutBatch(), this.opts.lingerMs);
      this.cancelCut = () => clearTimeout(timer);
    }
  }

  /**
   * Starts the formed batch once the earlier work of each of its keys is done: batches sharing a
   * key run one after another, in arrival order; others run in parallel.
   */
  private cutBatch(): void {
    this.cancelCut?.();
    this.cancelCut = undefined;
    const batch = this.forming;
    if (batch.length === 0) return;
    this.forming = [];
    const keys = new Set<string>();
    if (this.opts.keyOf !== undefined) {
      for (const { item } of batch) {
        const key = this.opts.keyOf(item.message);
        if (key !== undefined) keys.add(key);
      }
    }
    const previous = [...keys].flatMap((key) => {
      const tail = this.keyTails.get(key);
      return tail === undefined ? [] : [tail];
    });
    const run = (): Promise<void> => this.runBatch(batch);
    // A queued batch still counts as in flight: the credit bound covers waiting work too.
    const handler = (previous.length === 0 ? run() : Promise.allSettled(previous).then(run)).finally(() => {
      this.inFlight -= batch.length;
      this.handlers.delete(handler);
      for (const key of keys) if (this.keyTails.get(key) === handler) this.keyTails.delete(key);
      this.topUp();
    });
    for (const key of keys) this.keyTails.set(key, handler);
    this.handlers.add(handler);
  }

  private async runBatch(batch: Pending<T>[]): Promise<void> {
    let items = batch;
    let final: Array<{ pending: Pending<T>; outcome: O | Settlement }> = [];
    this.runningBatches += 1;
    try {
      for (;;) {
        if (this.opts.waitWhilePaused === true && this.paused && !(await this.resumed())) {
          final = items.map((pending) => ({ pending, outcome: { action: "release" } }));
          break;
        }
        const outcomes = await this.callHandler(items);
        const held = items.filter((_, i) => outcomes[i]?.action === "hold");
        const done = items.flatMap((pending, i) => {
          const outcome = outcomes[i];
          return outcome === undefined || outcome.action === "hold" ? [] : [{ pending, outcome }];
        });
        if (held.length === 0 || this.opts.probe === undefined) {
          // Without a probe nobody would end a pause: a hold is retried by the broker instead.
          final = items.map((pending, i) => {
            const outcome = outcomes[i] ?? { action: "retry", reason: "no outcome for this delivery" };
            return {
              pending,
              outcome: outcome.action === "hold" ? { action: "retry", reason: outcome.reason } : outcome,
            };
          });
          break;
        }
        await this.settleAll(done);
        if (this.stopping !== undefined) {
          final = held.map((pending) => ({ pending, outcome: { action: "release" } }));
          break;
        }
        // Not the deliveries' fault: keep them unsettled and try them again once the database answers.
        this.pause();
        if (!(await this.resumed())) {
          final = held.map((pending) => ({ pending, outcome: { action: "release" } }));
          break;
        }
        items = held;
      }
    } finally {
      this.runningBatches -= 1;
    }
    await this.settleAll(final);
  }

  /** The handler's outcomes, one per delivery; a throw or a missing outcome becomes a retry. */
  private async callHandler(items: readonly Pending<T>[]): Promise<ReadonlyArray<O | Settlement>> {
    let outcomes: readonly O[];
    try {
      outcomes = await this.opts.handle(
        items.map((p) => p.item),
        { signal: this.stopSignal.signal },
      );
    } catch (error) {
      // The handler should never throw; if it does, let the broker retry (and eventually DLQ).
      const reason = `unexpected error: ${error instanceof Error ? error.message : String(error)}`;
      return items.map(() => ({ action: "retry", reason }));
    }
    return items.map((_, i) => outcomes[i] ?? { action: "retry", reason: "no outcome for this delivery" });
  }

  /** The accepts go together; every other outcome is settled in a tick of its own (settle-alone.ts). */
  private async settleAll(settlements: ReadonlyArray<{ pending: Pending<T>; outcome: O | Settlement }>) {
    const later: Array<() => void> = [];
    for (const { pending, outcome } of settlements) {
      if (pending.generation !== this.generation) {
        // rhea silently drops settlements for deliveries of a previous connection or link; the
        // broker redelivers the message (an idempotent handler sees a duplicate then).
        this.logger.debug(
          { queue: this.opts.queue, messageId: pending.item.message.message_id, action: outcome.action },
          "settlement lost to a reconnect",
        );
      }
      const settle = (): void => {
        if (this.settle(pending, outcome)) this.opts.onSettled?.(outcome as O, pending.item);
        if (outcome.action === "retry" && outcome.databaseUnavailable === true) this.pause();
      };
      if (outcome.action === "accept") settle();
      else later.push(settle);
    }
    for (const settle of later) await settleAlone(settle);
  }

  /** Settles a delivery once: a late outcome after stop() released it changes nothing. */
  private settle(pending: Pending<T>, outcome: Settlement): boolean {
    if (!this.unsettled.delete(pending)) return false;
    const { delivery } = pending;
    switch (outcome.action) {
      case "accept":
        delivery.accept();
        break;
      case "reject":
        delivery.reject({ condition: REJECT_CONDITION, description: outcome.reason.slice(0, 1000) });
        break;
      case "retry":
      case "hold":
        // Not release(): a released delivery is redelivered at once without counting an attempt,
        // so a message that always fails would loop forever instead of reaching the DLQ.
        delivery.modified({ delivery_failed: true });
        break;
      case "release":
        delivery.release();
        break;
    }
    return true;
  }

  /**
   * Resolves true when consumption resumes, false when the consumer stops first. Once stopped it
   * answers false at once: stop() woke the waiters that were there, and nobody would wake a new one.
   */
  private resumed(): Promise<boolean> {
    if (this.stopping !== undefined) return Promise.resolve(false);
    if (!this.paused) return Promise.resolve(true);
    return new Promise((resolve) => this.resumeWaiters.add(resolve));
  }

  private wakeResumeWaiters(result: boolean): void {
    for (const wake of [...this.resumeWaiters]) wake(result);
    this.resumeWaiters.clear();
  }

  private pause(): void {
    if (this.opts.probe === undefined || this.paused || this.stopping !== undefined) return;
    this.paused = true;
    this.pauses += 1;
    this.logger.warn({ queue: this.opts.queue }, "pausing consumption until the database answers");
    this.scheduleProbe(PROBE_DELAY_MS.initial);
  }

  private scheduleProbe(delayMs: number): void {
    this.probeTimer = setTimeout(() => void this.runProbe(delayMs), delayMs);
  }

  private async runProbe(delayMs: number): Promise<void> {
    this.probeTimer = undefined;
    const probe = this.opts.probe;
    if (probe === undefined || this.stopping !== undefined) return;
    this.probes += 1;
    const ok = await probe().catch(() => false);
    if (this.stopping !== undefined) return;
    if (!ok) {
      this.scheduleProbe(Math.min(delayMs * 2, PROBE_DELAY_MS.max));
      return;
    }
    this.paused = false;
    this.logger.info({ queue: this.opts.queue }, "database answers again; resuming consumption");
    this.opts.onResume?.();
    this.wakeResumeWaiters(true);
    this.topUp();
  }
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
