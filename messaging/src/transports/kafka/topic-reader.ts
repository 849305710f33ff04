import { Consumer, type GroupAssignment, type Message, type MessagesStream } from "@platformatic/kafka";
import type { Logger } from "../../logger.js";
import { OffsetWatermark } from "./offset-watermark.js";
import { closeWithin, forceClose, type KafkaClientSettings } from "./publisher.js";
import { describeError } from "./publish-outcome.js";
import { decodeHeaders, type ReadRecord } from "./record.js";

export interface TopicReaderOptions {
  settings: KafkaClientSettings;
  groupId: string;
  topic: string;
  sessionTimeoutMs: number;
  logger: Logger;
  /** A record taken into hand (each offset once per assignment); settle it with `done`. */
  onRecord: (record: ReadRecord, handle: RecordHandle) => void;
  /** Partitions were taken away (rebalance, reconnect): their records in hand can no longer be committed. */
  onRevoked?: (partitions: number[]) => void;
}

/** What identifies a record in hand for its commit: the partition's watermark it was taken into. */
export interface RecordHandle {
  readonly partition: number;
  readonly offset: bigint;
  readonly watermark: OffsetWatermark;
}

const RECONNECT_MS = { initial: 500, max: 10_000 };
const REASSERT_COMMITS_MS = 5_000;

/**
 * One Kafka consumer (one group id) reading one topic through its messages stream, committing by
 * hand: a record's offset counts as done only when `done()` says so, and each partition commits its
 * contiguous watermark (offset-watermark.ts). The stream can only be paused as a whole, so every
 * reason to hold back (in-flight limit, a retry tier's due time, the database probe) is a named
 * pause here and the stream flows only when there is none.
 *
 * Rebalances: on every join the partitions no longer assigned lose their watermark (never
 * committed for again; their records in hand are read again by the new owner, the inbox drops
 * what was applied), and a new stream re-reads the kept partitions from the committed offset; the
 * watermark skips what is already in hand.
 */
export class TopicReader {
  private consumer: Consumer | undefined;
  private stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined;
  private readonly watermarks = new Map<number, OffsetWatermark>();
  private readonly pauses = new Set<string>();
  private readonly toCommit = new Map<number, { offset: bigint; watermark: OffsetWatermark }>();
  private commitScheduled = false;
  /** The last offset committed per partition, asserted again now and then (see reassertCommits). */
  private readonly committed = new Map<number, { offset: bigint; watermark: OffsetWatermark }>();
  private reassertTimer: NodeJS.Timeout | undefined;
  private committing: Promise<void> = Promise.resolve();
  private stopped = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectDelayMs = RECONNECT_MS.initial;
  private attached = false;
  private generation = 0;
  /** A rebalance is replacing the stream: the old one's records are dropped meanwhile. */
  private replacing = false;
  private replacements = 0;

  constructor(private readonly opts: TopicReaderOptions) {}

  start(): void {
    if (this.reassertTimer !== undefined) return;
    this.reassertTimer = setInterval(() => this.reassertCommits(), REASSERT_COMMITS_MS);
    this.reassertTimer.unref();
    void this.connect();
  }

  isAttached(): boolean {
    return this.attached && !this.stopped;
  }

  /** Holds the stream back for `reason` (on) or lifts that reason (off). */
  pause(reason: string, on: boolean): void {
    if (on) this.pauses.add(reason);
    else this.pauses.delete(reason);
    this.applyFlow();
  }

  isPaused(reason?: string): boolean {
    return reason === undefined ? this.pauses.size > 0 : this.pauses.has(reason);
  }

  /** The record is settled for good: its offset may be committed once those before it are. */
  done(handle: RecordHandle): void {
    if (this.stopped || this.watermarks.get(handle.partition) !== handle.watermark) return;
    if (!handle.watermark.done(handle.offset)) return;
    const offset = handle.watermark.advance();
    if (offset === undefined) return;
    this.toCommit.set(handle.partition, { offset, watermark: handle.watermark });
    this.scheduleCommit();
  }

  /**
   * Commits what is done (waiting at most commitTimeoutMs), then leaves the group and closes the
   * client, waiting at most leaveTimeoutMs for that (0: not at all).
   */
  async stop(commitTimeoutMs: number, leaveTimeoutMs: number): Promise<void> {
    if (this.stopped) return;
    this.flushCommits();
    await closeWithin(this.committing, commitTimeoutMs);
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.reassertTimer);
    await this.disconnect(leaveTimeoutMs);
  }

  private scheduleCommit(): void {
    if (this.commitScheduled) return;
    this.commitScheduled = true;
    setImmediate(() => {
      this.commitScheduled = false;
      this.flushCommits();
    });
  }

  private flushCommits(): void {
    const consumer = this.consumer;
    if (consumer === undefined || this.toCommit.size === 0) return;
    const batch = [...this.toCommit].filter(
      ([partition, c]) => this.watermarks.get(partition) === c.watermark,
    );
    this.toCommit.clear();
    if (batch.length === 0) return;
    const offsets = batch.map(([partition, c]) => ({
      topic: this.opts.topic,
      partition,
      offset: c.offset,
      leaderEpoch: -1,
    }));
    this.committing = this.committing
      .then(() => consumer.commit({ offsets }))
      .then(() => {
        for (const [partition, c] of batch) {
          const last = this.committed.get(partition);
          if (last === undefined || last.watermark !== c.watermark || last.offset < c.offset) {
            this.committed.set(partition, c);
          }
        }
      })
      .catch((error: unknown) => {
        this.opts.logger.warn(
          { topic: this.opts.topic, group: this.opts.groupId, error: describeError(error) },
          "offset commit failed; the next commit covers it (a record may be read again)",
        );
        // Keep what failed unless a newer offset of the same watermark is waiting already.
        for (const [partition, c] of batch)
          if (!this.toCommit.has(partition)) this.toCommit.set(partition, c);
        if (!this.stopped) setTimeout(() => this.scheduleCommit(), 1_000);
      });
  }

  /**
   * Commits the last committed offset of every partition still ours again. A member that lost a
   * partition may have had a commit in flight: the client retries a commit refused for the old
   * generation after rejoining, and that late commit moves the partition's offset back behind the
   * new owner's (no loss: records read again; but a lag that would not drain until the new owner
   * commits again). Asserting ours again now and then repairs it.
   */
  private reassertCommits(): void {
    for (const [partition, c] of this.committed) {
      if (this.watermarks.get(partition) !== c.watermark) {
        this.committed.delete(partition);
        continue;
      }
      if (!this.toCommit.has(partition)) this.toCommit.set(partition, c);
    }
    if (this.toCommit.size > 0) this.scheduleCommit();
  }

  private applyFlow(): void {
    const stream = this.stream;
    if (stream === undefined) return;
    if (this.pauses.size > 0) {
      if (!stream.isPaused()) stream.pause();
    } else if (stream.isPaused()) {
      stream.resume();
    }
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const generation = ++this.generation;
    const consumer = new Consumer({
      clientId: `${this.opts.settings.clientId}-${this.opts.groupId}`,
      bootstrapBrokers: this.opts.settings.brokers,
      groupId: this.opts.groupId,
      autocommit: false,
      autocreateTopics: false,
      sessionTimeout: this.opts.sessionTimeoutMs,
      heartbeatInterval: Math.max(500, Math.floor(this.opts.sessionTimeoutMs / 4)),
      rebalanceTimeout: this.opts.sessionTimeoutMs,
      timeout: this.opts.settings.requestTimeoutMs,
      connectTimeout: this.opts.settings.requestTimeoutMs,
      maxWaitTime: 500,
      retries: 3,
      retryDelay: 250,
    });
    this.consumer = consumer;
    // The client emits 'error' when rejoining the group failed for good: start over.
    consumer.on("error", (error: Error) => {
      if (consumer === this.consumer) this.onStreamFailed(generation, error);
    });
    consumer.on("consumer:group:join", (payload: { assignments?: GroupAssignment[] }) =>
      this.onJoin(consumer, generation, payload.assignments ?? []),
    );
    try {
      const stream = await this.openStream(consumer);
      if (this.stopped || generation !== this.generation) {
        await closeWithin(stream.close(), 1_000);
        return;
      }
      this.attached = true;
      this.reconnectDelayMs = RECONNECT_MS.initial;
      this.revokeUnassigned(consumer.assignments ?? []);
      this.useStream(consumer, generation, stream);
      this.opts.logger.info({ topic: this.opts.topic, group: this.opts.groupId }, "Kafka consumer joined");
    } catch (error) {
      this.onStreamFailed(generation, error);
    }
  }

  private openStream(consumer: Consumer): Promise<MessagesStream<Buffer, Buffer, Buffer, Buffer>> {
    return consumer.consume({
      topics: [this.opts.topic],
      mode: "committed",
      fallbackMode: "earliest",
      autocommit: false,
      // A few fetches' worth of records waiting in the stream; the in-flight limit is ours.
      highWaterMark: 64,
    });
  }

  private useStream(
    consumer: Consumer,
    generation: number,
    stream: MessagesStream<Buffer, Buffer, Buffer, Buffer>,
  ): void {
    this.stream = stream;
    stream.on("data", (message: Message<Buffer, Buffer, Buffer, Buffer>) => {
      if (stream === this.stream && !this.replacing) this.onData(consumer, message);
    });
    stream.on("error", (error: Error) => {
      if (stream === this.stream) this.onStreamFailed(generation, error);
    });
    stream.on("close", () => {
      if (stream === this.stream) this.onStreamFailed(generation, undefined);
    });
    this.applyFlow();
  }

  /**
   * After a rebalance, a new stream reads the kept partitions from the committed offset. The old
   * stream is dropped with what it buffered and what it still fetches: a fetch sent before the join
   * could answer after it with records beyond ones the old stream's buffer held, and taking those
   * would skip the buffered ones. Opened before the old one closes, so the consumer stays
   * subscribed and does not rejoin.
   */
  private async replaceStream(consumer: Consumer, generation: number): Promise<void> {
    const old = this.stream;
    if (old === undefined) return;
    const seq = ++this.replacements;
    this.replacing = true;
    try {
      const stream = await this.openStream(consumer);
      if (this.stopped || generation !== this.generation || seq !== this.replacements) {
        await closeWithin(stream.close(), 1_000);
        return;
      }
      this.replacing = false;
      this.useStream(consumer, generation, stream);
      await closeWithin(old.close(), 2_000);
    } catch (error) {
      if (seq === this.replacements) this.replacing = false;
      this.onStreamFailed(generation, error);
    }
  }

  private onStreamFailed(generation: number, error: unknown): void {
    if (this.stopped || generation !== this.generation) return;
    this.generation += 1;
    this.attached = false;
    this.opts.logger.warn(
      {
        topic: this.opts.topic,
        group: this.opts.groupId,
        error: error === undefined ? "closed" : describeError(error),
      },
      "Kafka consumer stream failed; reconnecting",
    );
    this.revoke([...this.watermarks.keys()]);
    void this.disconnect(2_000);
    const delay = this.reconnectDelayMs;
    this.reconnectDelayMs = Math.min(delay * 2, RECONNECT_MS.max);
    this.reconnectTimer = setTimeout(() => void this.connect(), delay);
  }

  private async disconnect(timeoutMs: number): Promise<void> {
    const stream = this.stream;
    const consumer = this.consumer;
    this.stream = undefined;
    this.consumer = undefined;
    this.attached = false;
    if (stream !== undefined) await closeWithin(stream.close(), timeoutMs);
    if (consumer !== undefined) await closeWithin(forceClose(consumer), timeoutMs);
  }

  private onJoin(consumer: Consumer, generation: number, assignments: readonly GroupAssignment[]): void {
    if (consumer !== this.consumer) return;
    this.revokeUnassigned(assignments);
    void this.replaceStream(consumer, generation);
  }

  private revokeUnassigned(assignments: readonly GroupAssignment[]): void {
    const mine = new Set(assignments.find((a) => a.topic === this.opts.topic)?.partitions ?? []);
    this.revoke([...this.watermarks.keys()].filter((p) => !mine.has(p)));
  }

  private revoke(partitions: number[]): void {
    if (partitions.length === 0) return;
    for (const partition of partitions) {
      this.watermarks.delete(partition);
      this.toCommit.delete(partition);
      this.committed.delete(partition);
    }
    this.opts.onRevoked?.(partitions);
  }

  private onData(consumer: Consumer, message: Message<Buffer, Buffer, Buffer, Buffer>): void {
    if (this.stopped || consumer !== this.consumer) return;
    const { partition, offset } = message;
    // A partition taken away since the fetch: its new owner reads it.
    const assigned = consumer.assignments?.find((a) => a.topic === this.opts.topic)?.partitions ?? [];
    if (!assigned.includes(partition)) return;
    let watermark = this.watermarks.get(partition);
    if (watermark === undefined) {
      watermark = new OffsetWatermark();
      this.watermarks.set(partition, watermark);
    }
    if (!watermark.take(offset)) return;
    const record: ReadRecord = {
      topic: message.topic,
      partition,
      offset,
      key: message.key === undefined || message.key === null ? undefined : message.key.toString("utf8"),
      value: message.value ?? undefined,
      headers: decodeHeaders(message.headers),
      timestamp: Number(message.timestamp),
    };
    this.opts.onRecord(record, { partition, offset, watermark });
  }
}
