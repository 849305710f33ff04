import { compatibilityPartitioner, Producer } from "@platformatic/kafka";
import type { Logger } from "../../logger.js";
import type { OutgoingEnvelope } from "../../contracts/envelope.js";
import type { PublisherState, PublishOutcome, TransportPublisher } from "../../transport/transport.js";
import { brokerAnswered, describeError, outcomeOfSendError } from "./publish-outcome.js";
import { toKafkaRecord, type KafkaRecordData } from "./record.js";
import { SerialSender } from "./serial-sender.js";

export interface KafkaClientSettings {
  brokers: string[];
  clientId: string;
  /** Per request; also the connect timeout. */
  requestTimeoutMs: number;
}

/** An idempotent producer (acks = all): a retry within its session is never written twice. */
export function idempotentProducer(settings: KafkaClientSettings): Producer {
  return new Producer({
    clientId: settings.clientId,
    bootstrapBrokers: settings.brokers,
    idempotent: true,
    acks: -1,
    autocreateTopics: false,
    // Java's partitioner (murmur2 & 0x7fffffff): a key lands in the partition every other client
    // (the Java clients, kafkajs) picks for it, so order per key holds whoever writes.
    partitioner: compatibilityPartitioner,
    timeout: settings.requestTimeoutMs,
    connectTimeout: settings.requestTimeoutMs,
    // A leader election (a topic just created, a broker restarting) takes a few seconds.
    retries: 6,
    retryDelay: 500,
  });
}

/**
 * How long one produce request may go unanswered before its producer is replaced: longer than the
 * client's own retries of it (requests of `requestTimeoutMs`, 6 retries 500 ms apart).
 */
export function produceTimeoutMs(settings: KafkaClientSettings): number {
  return settings.requestTimeoutMs * 2 + 6 * 500;
}

export interface KafkaPublisherOptions {
  settings: KafkaClientSettings;
  topic: string;
  sendTimeoutMs: number;
  logger: Logger;
}

const READY_RETRY_MS = { initial: 250, max: 5_000 };

/**
 * The seam's publisher over one idempotent producer writing to one topic. `publish()` never
 * rejects: acknowledged → accepted; refused by the broker → rejected; timed out or connection
 * lost → unknown (the inbox drops a resend that got through). "Sendable" means the cluster
 * answered a metadata request since the last connection error.
 */
export class KafkaPublisher implements TransportPublisher {
  private readonly sender: SerialSender;
  private readonly inFlight = new Set<(outcome: PublishOutcome) => void>();
  private readonly waiters = new Set<() => void>();
  private ready = false;
  private started = false;
  private closed = false;
  private lastError: string | undefined;
  private readyTimer: NodeJS.Timeout | undefined;
  private checking = false;

  constructor(private readonly opts: KafkaPublisherOptions) {
    this.sender = new SerialSender(
      () => idempotentProducer(opts.settings),
      produceTimeoutMs(opts.settings),
      (reason) => opts.logger.warn({ topic: opts.topic, reason }, "Kafka producer replaced"),
    );
  }

  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.checkReady(READY_RETRY_MS.initial);
  }

  isSendable(): boolean {
    return this.ready && !this.closed;
  }

  state(): PublisherState {
    return {
      connected: !this.closed && this.sender.producer.isConnected(),
      linkOpen: this.ready && !this.closed,
      sendable: this.isSendable(),
      inFlight: this.inFlight.size,
      lastError: this.lastError,
    };
  }

  waitUntilSendable(timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    this.start();
    if (this.isSendable()) return Promise.resolve(true);
    if (timeoutMs <= 0 || signal.aborted || this.closed) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const finish = (result: boolean): void => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        this.waiters.delete(onWake);
        resolve(result);
      };
      const onWake = (): void => {
        if (this.isSendable()) finish(true);
        else if (this.closed) finish(false);
      };
      const onAbort = (): void => finish(false);
      const timer = setTimeout(() => finish(false), timeoutMs);
      signal.addEventListener("abort", onAbort, { once: true });
      this.waiters.add(onWake);
    });
  }

  publish(envelope: OutgoingEnvelope): Promise<PublishOutcome> {
    if (envelope.deliverAt !== null) {
      return Promise.resolve({
        kind: "rejected",
        reason: "scheduled delivery (deliverAt) is not available on the Kafka transport",
      });
    }
    return this.send(toKafkaRecord(envelope));
  }

  /** Sends one record and resolves with its outcome. Never rejects. */
  send(record: KafkaRecordData): Promise<PublishOutcome> {
    if (!this.isSendable()) {
      return Promise.resolve({ kind: "unknown", reason: "producer not sendable", notSent: true });
    }
    return new Promise<PublishOutcome>((resolve) => {
      const finish = (outcome: PublishOutcome): void => {
        if (!this.inFlight.delete(finish)) return; // timed out or closed before: a late answer changes nothing
        clearTimeout(timer);
        resolve(outcome);
      };
      const sending = this.sender.sendWithdrawable(this.opts.topic, record);
      const timer = setTimeout(() => {
        // Still queued behind a slow request: taken back, so it cannot land beside the resend.
        const withdrawn = sending.withdraw();
        finish({
          kind: "unknown",
          reason: `no acknowledgement within ${this.opts.sendTimeoutMs} ms`,
          ...(withdrawn ? { notSent: true } : {}),
        });
      }, this.opts.sendTimeoutMs);
      this.inFlight.add(finish);
      sending.done.then(
        () => finish({ kind: "accepted" }),
        (error: unknown) => {
          const outcome = outcomeOfSendError(error);
          this.lastError = describeError(error);
          if (outcome.kind === "unknown" && !brokerAnswered(error)) this.lostConnection();
          finish(outcome);
        },
      );
    });
  }

  /** Stops taking sends, answers what is in flight `unknown`, closes the producer (bounded). */
  async close(timeoutMs = 2_000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.readyTimer);
    for (const finish of [...this.inFlight]) finish({ kind: "unknown", reason: "publisher closed" });
    this.wakeWaiters();
    await closeWithin(forceClose(this.sender.producer), timeoutMs);
  }

  private lostConnection(): void {
    if (!this.ready) return;
    this.ready = false;
    this.opts.logger.warn(
      { topic: this.opts.topic, error: this.lastError },
      "Kafka producer lost the cluster",
    );
    this.checkReady(READY_RETRY_MS.initial);
  }

  /** Asks for the topic's metadata until the cluster answers. */
  private checkReady(delayMs: number): void {
    if (this.closed || this.checking) return;
    this.checking = true;
    this.sender.producer.metadata({ topics: [this.opts.topic], forceUpdate: true }).then(
      (metadata) => {
        const partitions = metadata.topics.get(this.opts.topic)?.partitions ?? [];
        if (partitions.length > 0 && partitions.every((p) => p.leader >= 0)) {
          this.becameReady();
          return;
        }
        this.lastError = `no leader yet for every partition of ${this.opts.topic}`;
        this.checking = false;
        this.readyTimer = setTimeout(
          () => this.checkReady(Math.min(delayMs * 2, READY_RETRY_MS.max)),
          delayMs,
        );
      },
      (error: unknown) => {
        this.lastError = describeError(error);
        // An unknown topic is still an answer: publish() will say `rejected` for it.
        if (brokerAnswered(error)) {
          this.becameReady();
          return;
        }
        this.checking = false;
        if (this.closed) return;
        this.readyTimer = setTimeout(
          () => this.checkReady(Math.min(delayMs * 2, READY_RETRY_MS.max)),
          delayMs,
        );
      },
    );
  }

  private becameReady(): void {
    this.checking = false;
    if (this.closed) return;
    if (!this.ready) this.opts.logger.info({ topic: this.opts.topic }, "Kafka producer ready");
    this.ready = true;
    this.wakeWaiters();
  }

  private wakeWaiters(): void {
    for (const wake of [...this.waiters]) wake();
  }
}

/** Waits for a close at most timeoutMs; a close that fails or hangs is not the caller's problem. */
export async function closeWithin(closing: Promise<unknown>, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    closing.then(
      () => undefined,
      () => undefined,
    ),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    }),
  ]);
  clearTimeout(timer);
}

/** Closes a client without waiting for what it still has in flight (force: its streams too). */
export function forceClose(client: {
  close(force: boolean, callback: (error?: Error | null) => void): void;
}): Promise<void> {
  return new Promise<void>((resolve) => client.close(true, () => resolve()));
}
