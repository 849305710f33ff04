import { readEnvelope } from "../../contracts/envelope.js";
import { parseReceiptMessage } from "../../contracts/receipt.js";
import type { Decoded, Settlement } from "../../inbox/batch-consumer.js";
import type { Logger } from "../../logger.js";
import type {
  ConsumerOptions,
  ConsumerState,
  ContractName,
  Contracts,
  InboundMessage,
  TransportConsumer,
} from "../../transport/transport.js";
import { KeyOrderedBatches } from "./key-ordered-batches.js";
import { kafkaGroupId, kafkaGroupTopics } from "./names.js";
import { describeError } from "./publish-outcome.js";
import type { KafkaClientSettings } from "./publisher.js";
import type { SerialSender } from "./serial-sender.js";
import {
  asContractMessage,
  attemptOf,
  dueAtOf,
  HEADER,
  toFailedRecord,
  traceOf,
  type KafkaRecordData,
  type ReadRecord,
} from "./record.js";
import { TopicReader, type RecordHandle } from "./topic-reader.js";

type Decoder<K extends ContractName> = (record: ReadRecord) => Decoded<Contracts[K]>;

const decoders: { [K in ContractName]: Decoder<K> } = {
  event: (record) => {
    const read = readEnvelope(asContractMessage(record));
    return read.ok ? { ok: true, value: read.envelope } : { ok: false, reason: read.reason };
  },
  receipt: (record) => {
    const receipt = parseReceiptMessage(asContractMessage(record));
    return receipt === undefined
      ? { ok: false, reason: "not a delivery receipt" }
      : { ok: true, value: receipt };
  },
};

/** The decoded record as the seam hands it out; undecodable: the reason. */
export function toInboundMessage<K extends ContractName>(
  contract: K,
  record: ReadRecord,
): Decoded<InboundMessage<Contracts[K]>> {
  const messageId = record.headers[HEADER.messageId]?.trim();
  if (messageId === undefined || messageId === "" || messageId.length > 256) {
    return { ok: false, reason: "missing or invalid message-id header" };
  }
  const decoded = (decoders[contract] as Decoder<K>)(record);
  if (!decoded.ok) return decoded;
  return {
    ok: true,
    value: {
      messageId,
      key: record.key,
      value: decoded.value,
      trace: traceOf(record),
      attempt: attemptOf(record),
      native: record,
    },
  };
}

/** One record in hand: where it came from (tier 0 = the source) and how to commit it. */
interface InHand<T> {
  tier: number;
  record: ReadRecord;
  handle: RecordHandle;
  message: InboundMessage<T>;
  /** Set once settled (or given up at stop): a late outcome changes nothing. */
  finished: boolean;
}

export interface KafkaConsumerDeps {
  settings: KafkaClientSettings;
  sessionTimeoutMs: number;
  retryDelaysMs: readonly number[];
  /** The transport's producer for retry tiers and dead letters. */
  producer: () => SerialSender;
  logger: Logger;
}

const PROBE_DELAY_MS = { initial: 500, max: 10_000 };
const FORWARD_RETRY_MS = { initial: 500, max: 10_000 };
/** stop() waits this long for the last offset commit (what is done should not be read again). */
const COMMIT_AT_STOP_MS = 2_000;

/**
 * The seam's consumer over Kafka: a TopicReader for the source (group.id `<source>.<group>`) and
 * one per retry tier (its own group id, so that waiting for a due time pauses only that tier),
 * batches with per-key order (key-ordered-batches.ts), at most maxInFlight records in hand (every
 * reader paused at the limit), offsets committed only once a record is settled:
 * accept → done; retry → produced to the next tier (or the DLT after the last), then done;
 * reject → produced to the DLT, then done; release/hold → not done, handed out again.
 */
export class KafkaConsumer<K extends ContractName, O extends Settlement> implements TransportConsumer {
  private readonly readers: TopicReader[];
  private readonly topics: ReturnType<typeof kafkaGroupTopics>;
  private readonly batches: KeyOrderedBatches<InHand<Contracts[K]>>;
  private readonly logger: Logger;
  private readonly inHand = new Set<InHand<Contracts[K]>>();
  /** Records waiting for their due time, per tier reader (in arrival order). */
  private readonly waiting = new Map<number, InHand<Contracts[K]>[]>();
  private readonly dueTimers = new Map<number, NodeJS.Timeout>();
  private readonly sideTasks = new Set<Promise<void>>();
  private readonly stopSignal = new AbortController();
  private readonly resumeWaiters = new Set<(resumed: boolean) => void>();
  private started = false;
  /** The transport closed under the consumer: nothing it settles from now on can be committed. */
  private detached = false;
  private stopping: Promise<void> | undefined;
  private probePaused = false;
  private probeTimer: NodeJS.Timeout | undefined;
  private received = 0;
  private undecodable = 0;
  private pauses = 0;
  private probes = 0;

  constructor(
    private readonly opts: ConsumerOptions<K, O>,
    private readonly deps: KafkaConsumerDeps,
  ) {
    if (!Number.isInteger(opts.maxInFlight) || opts.maxInFlight < 1) {
      throw new Error(`maxInFlight must be a positive integer, got ${opts.maxInFlight}`);
    }
    const groupId = kafkaGroupId(opts.source, opts.group);
    this.topics = kafkaGroupTopics(opts.source, opts.group, deps.retryDelaysMs.length);
    this.logger = deps.logger.child({ component: "kafka-consumer", source: opts.source, group: opts.group });
    const sources = [opts.source, ...this.topics.retry];
    this.readers = sources.map(
      (topic, tier) =>
        new TopicReader({
          settings: deps.settings,
          groupId: tier === 0 ? groupId : topic,
          topic,
          sessionTimeoutMs: deps.sessionTimeoutMs,
          logger: this.logger,
          onRecord: (record, handle) => this.onRecord(tier, record, handle),
          onRevoked: (partitions) => this.onRevoked(tier, partitions),
        }),
    );
    this.batches = new KeyOrderedBatches<InHand<Contracts[K]>>({
      batchSize: Math.min(opts.batchSize, opts.maxInFlight),
      lingerMs: opts.lingerMs,
      keyOf: (item) => item.message.key,
      laneOf: (item) => `${item.tier}:${item.handle.partition}`,
      run: (batch) => this.runBatch(batch),
    });
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    for (const reader of this.readers) reader.start();
  }

  state(): ConsumerState {
    return {
      attached: this.readers[0]!.isAttached(),
      paused: this.probePaused,
      inFlight: this.inHand.size,
      received: this.received,
      undecodable: this.undecodable,
      pauses: this.pauses,
      probes: this.probes,
    };
  }

  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  /** The transport closes under the consumer: readers leave now, running handlers are not waited for. */
  async detach(timeoutMs: number): Promise<void> {
    this.detached = true;
    this.stopSignal.abort();
    await Promise.all(this.readers.map((reader) => reader.stop(timeoutMs, timeoutMs)));
  }

  private async shutdown(): Promise<void> {
    this.stopSignal.abort();
    clearTimeout(this.probeTimer);
    for (const timer of this.dueTimers.values()) clearTimeout(timer);
    for (const reader of this.readers) reader.pause("stopping", true);
    this.wakeResumeWaiters(false);
    this.batches.cut();
    const budget = this.opts.stopTimeoutMs ?? 4_000;
    if (!(await settleWithin(this.batches.pending(), budget))) {
      if (this.opts.releaseOnStopTimeout === true) {
        this.logger.warn(
          { unsettled: this.inHand.size, budgetMs: budget },
          "consumer stopped with records still being handled; released them",
        );
        // Given back: never committed, read again by the group's next owner.
        for (const item of [...this.inHand]) this.finish(item, false);
      } else {
        this.logger.warn(
          { inFlight: this.inHand.size },
          "records still in flight at stop; they are read again",
        );
      }
    }
    await settleWithin([...this.sideTasks], 2_000);
    const side = this.opts.sideWork;
    if (side !== undefined) await settleWithin([...side.pending()], side.timeoutMs);
    const detachMs = this.opts.detachTimeoutMs ?? 1_000;
    await Promise.all(this.readers.map((reader) => reader.stop(COMMIT_AT_STOP_MS, detachMs)));
  }

  private onRecord(tier: number, record: ReadRecord, handle: RecordHandle): void {
    const reader = this.readers[tier]!;
    if (this.stopping !== undefined) return; // not done: read again by the next owner
    this.received += 1;
    const decoded = toInboundMessage(this.opts.contract, record);
    if (!decoded.ok) {
      this.undecodable += 1;
      const messageId = record.headers[HEADER.messageId];
      this.logger.warn(
        {
          topic: record.topic,
          partition: record.partition,
          offset: String(record.offset),
          messageId,
          reason: decoded.reason,
        },
        "undecodable record dead-lettered",
      );
      this.opts.onUndecodable?.(decoded.reason, messageId);
      this.track(
        this.forward(
          this.topics.deadLetter,
          toFailedRecord(record, {
            attempt: attemptOf(record),
            dueAt: undefined,
            error: `undecodable: ${decoded.reason}`,
            group: this.opts.group,
          }),
          () => reader.done(handle),
        ),
      );
      return;
    }
    const item: InHand<Contracts[K]> = { tier, record, handle, message: decoded.value, finished: false };
    this.inHand.add(item);
    this.applyLimit();
    const dueAt = tier === 0 ? undefined : dueAtOf(record);
    const queue = this.waiting.get(tier);
    if (queue !== undefined && queue.length > 0) {
      queue.push(item);
    } else if (dueAt !== undefined && dueAt > Date.now()) {
      this.waiting.set(tier, [item]);
      reader.pause("due", true);
      this.scheduleDue(tier, dueAt);
    } else {
      this.batches.add(item);
    }
  }

  /** A retry tier waits for its first record's due time with its stream paused (seed 004). */
  private scheduleDue(tier: number, dueAt: number): void {
    clearTimeout(this.dueTimers.get(tier));
    this.dueTimers.set(
      tier,
      setTimeout(() => this.releaseDue(tier), Math.max(0, dueAt - Date.now())),
    );
  }

  private releaseDue(tier: number): void {
    this.dueTimers.delete(tier);
    if (this.stopping !== undefined) return;
    const queue = this.waiting.get(tier) ?? [];
    while (queue.length > 0) {
      const head = queue[0]!;
      const dueAt = dueAtOf(head.record);
      if (dueAt !== undefined && dueAt > Date.now()) {
        this.scheduleDue(tier, dueAt);
        return;
      }
      queue.shift();
      if (!head.finished) this.batches.add(head);
    }
    this.waiting.delete(tier);
    this.readers[tier]!.pause("due", false);
  }

  private onRevoked(tier: number, partitions: number[]): void {
    const gone = new Set(partitions);
    for (const item of [...this.inHand]) {
      if (item.tier === tier && gone.has(item.handle.partition)) {
        // Its offset can no longer be committed here; the partition's new owner reads it again.
        // A batch already running finishes; its outcome is not committed.
        this.finish(item, false);
      }
    }
    const queue = this.waiting.get(tier);
    if (queue !== undefined) {
      this.waiting.set(
        tier,
        queue.filter((item) => !item.finished),
      );
      if (this.waiting.get(tier)!.length === 0) {
        this.waiting.delete(tier);
        clearTimeout(this.dueTimers.get(tier));
        this.dueTimers.delete(tier);
        this.readers[tier]!.pause("due", false);
      }
    }
  }

  /** At most maxInFlight records in hand: every reader holds back at the limit. */
  private applyLimit(): void {
    const full = this.inHand.size >= this.opts.maxInFlight;
    for (const reader of this.readers) reader.pause("in-flight", full);
  }

  /** Leaves the record's hands: done → its offset may be committed. */
  private finish(item: InHand<Contracts[K]>, done: boolean): void {
    if (item.finished) return;
    item.finished = true;
    this.inHand.delete(item);
    if (done) this.readers[item.tier]!.done(item.handle);
    this.applyLimit();
  }

  private async runBatch(batch: InHand<Contracts[K]>[]): Promise<void> {
    let items = batch.filter((item) => !item.finished);
    while (items.length > 0) {
      if (this.opts.waitWhilePaused === true && this.probePaused && !(await this.resumed())) return;
      if (this.stopping !== undefined && this.stopSignal.signal.aborted && items.every((i) => i.finished))
        return;
      let outcomes: ReadonlyArray<O | Settlement>;
      try {
        const answered = await this.opts.handle(
          items.map((item) => item.message),
          { signal: this.stopSignal.signal },
        );
        outcomes = items.map(
          (_, i) => answered[i] ?? { action: "retry", reason: "no outcome for this delivery" },
        );
      } catch (error) {
        const reason = `unexpected error: ${error instanceof Error ? error.message : String(error)}`;
        outcomes = items.map(() => ({ action: "retry", reason }));
      }
      const again: InHand<Contracts[K]>[] = [];
      for (const [i, item] of items.entries()) {
        const outcome = outcomes[i]!;
        if (item.finished) continue;
        if (outcome.action === "hold" && this.opts.probe !== undefined) {
          again.push(item);
          continue;
        }
        if (outcome.action === "release") {
          // Not tried: handed out again at once (at stop: left for the next owner).
          if (this.stopping === undefined) again.push(item);
          continue;
        }
        this.settle(item, outcome);
      }
      if (again.length === 0 || this.stopping !== undefined) return;
      if (again.some((item) => outcomes[items.indexOf(item)]?.action === "hold")) {
        this.pause();
        if (!(await this.resumed())) return;
      }
      items = again.filter((item) => !item.finished);
    }
  }

  private settle(item: InHand<Contracts[K]>, outcome: O | Settlement): void {
    const told = (): void => this.opts.onSettled?.(outcome as O, item.message);
    switch (outcome.action) {
      case "accept":
        this.finish(item, true);
        told();
        return;
      case "reject":
        this.failTo(item, this.topics.deadLetter, outcome.reason, undefined, told);
        return;
      case "retry":
      case "hold": {
        // The next tier after this record's tier, or the dead letters after the last.
        const next = item.tier < this.topics.retry.length ? item.tier : undefined;
        if (next === undefined) this.failTo(item, this.topics.deadLetter, outcome.reason, undefined, told);
        else
          this.failTo(
            item,
            this.topics.retry[next]!,
            outcome.reason,
            Date.now() + this.deps.retryDelaysMs[next]!,
            told,
          );
        if (outcome.action === "retry" && outcome.databaseUnavailable === true) this.pause();
        return;
      }
      case "release":
        return;
    }
  }

  /** Produces the failed record to a retry tier or the DLT; the record is done only once it is there. */
  private failTo(
    item: InHand<Contracts[K]>,
    topic: string,
    error: string,
    dueAt: number | undefined,
    told: () => void,
  ): void {
    const record = toFailedRecord(item.record, {
      attempt: item.message.attempt,
      dueAt,
      error,
      group: this.opts.group,
    });
    this.track(
      this.forward(
        topic,
        record,
        () => {
          this.finish(item, true);
          told();
        },
        () => item.finished,
      ),
    );
  }

  /**
   * Sends a record to a retry or dead-letter topic until it is acknowledged (then `then`), giving
   * up only when the consumer stops or the record left our hands: never done without being there.
   */
  private async forward(
    topic: string,
    record: KafkaRecordData,
    then: () => void,
    abandoned = () => false,
  ): Promise<void> {
    let delay = FORWARD_RETRY_MS.initial;
    for (;;) {
      if (this.detached || abandoned()) return;
      try {
        await this.deps.producer().send(topic, record);
        then();
        return;
      } catch (error) {
        this.logger.warn(
          { topic, error: describeError(error), retryInMs: delay },
          "could not produce to the retry/dead-letter topic; the record stays in hand",
        );
        if (this.stopping !== undefined || this.detached || abandoned()) return;
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(delay * 2, FORWARD_RETRY_MS.max);
      }
    }
  }

  private track(task: Promise<void>): void {
    this.sideTasks.add(task);
    void task.finally(() => this.sideTasks.delete(task));
  }

  private pause(): void {
    if (this.opts.probe === undefined || this.probePaused || this.stopping !== undefined) return;
    this.probePaused = true;
    this.pauses += 1;
    for (const reader of this.readers) reader.pause("probe", true);
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
    this.probes += 1;
    const ok = await probe().catch(() => false);
    if (this.stopping !== undefined) return;
    if (!ok) {
      this.scheduleProbe(Math.min(delayMs * 2, PROBE_DELAY_MS.max));
      return;
    }
    this.probePaused = false;
    this.logger.info("database answers again; resuming consumption");
    for (const reader of this.readers) reader.pause("probe", false);
    this.opts.onResume?.();
    this.wakeResumeWaiters(true);
  }

  private resumed(): Promise<boolean> {
    if (this.stopping !== undefined) return Promise.resolve(false);
    if (!this.probePaused) return Promise.resolve(true);
    return new Promise((resolve) => this.resumeWaiters.add(resolve));
  }

  private wakeResumeWaiters(result: boolean): void {
    for (const wake of [...this.resumeWaiters]) wake(result);
    this.resumeWaiters.clear();
  }
}

/** True when every promise settled within timeoutMs. */
async function settleWithin(promises: readonly Promise<unknown>[], timeoutMs: number): Promise<boolean> {
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
