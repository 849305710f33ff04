import { Consumer } from "@platformatic/kafka";
import type { HealthCheck } from "../../health.js";
import type { Settlement } from "../../inbox/batch-consumer.js";
import type { Logger } from "../../logger.js";
import type {
  ConsumerOptions,
  ContractName,
  DeadLetterStore,
  PublisherOptions,
  ReceiptPublisher,
  Transport,
  TransportConsumer,
} from "../../transport/transport.js";
import { KafkaConsumer } from "./consumer.js";
import { KafkaDeadLetters } from "./dead-letters.js";
import { kafkaGroupId, kafkaGroupTopics, parseBrokers } from "./names.js";
import { describeError } from "./publish-outcome.js";
import {
  closeWithin,
  forceClose,
  idempotentProducer,
  produceTimeoutMs,
  KafkaPublisher,
  type KafkaClientSettings,
} from "./publisher.js";
import { ReceiptsOverPublisher } from "../../transport/receipts-over-publisher.js";
import { toKafkaReceiptRecord } from "./record.js";
import { SerialSender } from "./serial-sender.js";

export interface KafkaTransportOptions {
  /** Bootstrap servers: the AppHost's connection string `host:port[,host:port…]`, or a list. */
  brokers: string | readonly string[];
  /** Client id prefix, unique per process (e.g. `receiver-<uuid>`). */
  clientId: string;
  logger: Logger;
  /** Delay before each retry tier; its length is the number of tiers. Default [5_000, 10_000]. */
  retryDelaysMs?: readonly number[] | ((source: string, group: string) => readonly number[]);
  /** Group session timeout (default 10_000; the broker's minimum is 6_000). */
  sessionTimeoutMs?: number;
}

/** Seed 004: 3 attempts, 5 s base delay, growing. */
export const DEFAULT_RETRY_DELAYS_MS: readonly number[] = [5_000, 10_000];
const REQUEST_TIMEOUT_MS = 10_000;
const HEALTH_TIMEOUT_MS = 3_000;

/**
 * The Transport over Apache Kafka with @platformatic/kafka: a producer per publisher, per consumer a
 * reader per topic (source and retry tiers), one shared producer for retry tiers, dead letters and
 * replays, and a client that never joins a group for metadata, offsets and dead-letter browsing.
 * docs/transport-mapping.md says how each concept of the seam maps.
 */
export class KafkaTransport implements Transport {
  readonly name = "kafka" as const;
  private readonly brokers: string[];
  private readonly logger: Logger;
  private readonly sessionTimeoutMs: number;
  private readonly opened = new Set<{ close(): Promise<void> }>();
  private readonly consumers = new Set<KafkaConsumer<ContractName, Settlement>>();
  private sharedProducer: SerialSender | undefined;
  private reader: Consumer | undefined;
  private connected = false;
  private lastError: string | undefined;
  private closed = false;
  private watchTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: KafkaTransportOptions) {
    this.brokers = parseBrokers(options.brokers);
    if (options.clientId.trim() === "") throw new Error("clientId must not be empty");
    this.logger = options.logger.child({ transport: "kafka" });
    this.sessionTimeoutMs = options.sessionTimeoutMs ?? 10_000;
    if (!Number.isInteger(this.sessionTimeoutMs) || this.sessionTimeoutMs < 1_000) {
      throw new Error(`sessionTimeoutMs must be an integer ≥ 1000, got ${this.sessionTimeoutMs}`);
    }
    if (typeof options.retryDelaysMs !== "function" && options.retryDelaysMs !== undefined) {
      checkedDelays(options.retryDelaysMs);
    }
  }

  publisher(options: PublisherOptions): KafkaPublisher {
    if (!Number.isFinite(options.sendTimeoutMs) || options.sendTimeoutMs <= 0) {
      throw new Error(`sendTimeoutMs must be a positive number, got ${options.sendTimeoutMs}`);
    }
    const publisher = new KafkaPublisher({
      settings: this.settings(options.name),
      topic: options.destination,
      sendTimeoutMs: options.sendTimeoutMs,
      logger: this.logger,
    });
    this.opened.add(publisher);
    return publisher;
  }

  consumer<K extends ContractName, O extends Settlement>(options: ConsumerOptions<K, O>): TransportConsumer {
    const consumer = new KafkaConsumer<K, O>(options, {
      settings: this.settings(`${options.group}`),
      sessionTimeoutMs: this.sessionTimeoutMs,
      retryDelaysMs: this.retryDelays(options.source, options.group),
      producer: () => this.producer(),
      logger: this.logger,
    });
    this.consumers.add(consumer as unknown as KafkaConsumer<ContractName, Settlement>);
    return consumer;
  }

  receiptPublisher(options: PublisherOptions): ReceiptPublisher {
    const receipts = new ReceiptsOverPublisher(
      this.publisher(options),
      toKafkaReceiptRecord,
      options.sendTimeoutMs,
    );
    return receipts;
  }

  deadLetters(source: string, group: string): DeadLetterStore {
    const topics = kafkaGroupTopics(source, group, this.retryDelays(source, group).length);
    return new KafkaDeadLetters({
      source,
      group,
      deadLetter: topics.deadLetter,
      marks: topics.marks,
      replayTo: topics.retry[0] ?? source,
      reader: this.readerClient(),
      producer: () => this.producer(),
    });
  }

  /** Starts watching the cluster (a metadata request every few seconds) for isConnected(). */
  open(): void {
    if (this.closed || this.watchTimer !== undefined) return;
    const watch = (): void => {
      void this.checkCluster().finally(() => {
        if (!this.closed) this.watchTimer = setTimeout(watch, 5_000);
      });
    };
    this.watchTimer = setTimeout(watch, 0);
  }

  isConnected(): boolean {
    return this.connected && !this.closed;
  }

  /** The services' `broker` check: healthy when the cluster answers a metadata request now. */
  healthCheck(): HealthCheck {
    return async () => {
      if (this.closed) return { status: "unhealthy", detail: "Kafka transport closed" };
      const ok = await this.checkCluster();
      return ok
        ? { status: "healthy", data: { brokers: this.brokers.join(",") } }
        : { status: "unhealthy", detail: `Kafka metadata request failed: ${this.lastError ?? "no answer"}` };
    };
  }

  /** Detaches every consumer (no waiting for handlers), closes publishers and the shared clients. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.watchTimer);
    await Promise.all([...this.consumers].map((c) => c.detach(2_000)));
    await Promise.all([...this.opened].map((p) => p.close()));
    const producer = this.sharedProducer;
    const reader = this.reader;
    this.sharedProducer = undefined;
    this.reader = undefined;
    if (producer !== undefined) await closeWithin(forceClose(producer.producer), 2_000);
    if (reader !== undefined) await closeWithin(forceClose(reader), 2_000);
  }

  private async checkCluster(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.readerClient().metadata({ topics: [], forceUpdate: true }),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${HEALTH_TIMEOUT_MS} ms`)),
            HEALTH_TIMEOUT_MS,
          );
        }),
      ]);
      if (!this.connected) this.logger.info({ brokers: this.brokers }, "Kafka cluster answers");
      this.connected = true;
      return true;
    } catch (error) {
      this.lastError = describeError(error);
      if (this.connected) this.logger.warn({ error: this.lastError }, "Kafka cluster does not answer");
      this.connected = false;
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  private settings(name: string): KafkaClientSettings {
    return {
      brokers: this.brokers,
      clientId: `${this.options.clientId}-${name}`,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
    };
  }

  private producer(): SerialSender {
    if (this.closed) throw new Error("Kafka transport closed");
    const settings = this.settings("internal");
    this.sharedProducer ??= new SerialSender(
      () => idempotentProducer(settings),
      produceTimeoutMs(settings),
      (reason) => this.logger.warn({ reason }, "Kafka producer replaced"),
    );
    return this.sharedProducer;
  }

  private readerClient(): Consumer {
    this.reader ??= new Consumer({
      clientId: `${this.options.clientId}-reader`,
      bootstrapBrokers: this.brokers,
      // Never joins: it only asks for metadata and offsets and fetches by hand.
      groupId: `${this.options.clientId}-reader`,
      autocreateTopics: false,
      timeout: REQUEST_TIMEOUT_MS,
      connectTimeout: REQUEST_TIMEOUT_MS,
      retries: 1,
    });
    return this.reader;
  }

  private retryDelays(source: string, group: string): readonly number[] {
    const given = this.options.retryDelaysMs;
    return checkedDelays(
      typeof given === "function" ? given(source, group) : (given ?? DEFAULT_RETRY_DELAYS_MS),
    );
  }
}

function checkedDelays(delays: readonly number[]): readonly number[] {
  for (const delay of delays) {
    if (!Number.isInteger(delay) || delay < 0)
      throw new Error(`retry delays must be integers ≥ 0, got ${delay}`);
  }
  return delays;
}

/** A Transport over Kafka; call open() to start watching the cluster. */
export function kafkaTransport(options: KafkaTransportOptions): KafkaTransport {
  return new KafkaTransport(options);
}

export { kafkaGroupId, kafkaGroupTopics };
export { toKafkaRecord } from "./record.js";
