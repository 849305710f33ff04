import type { IncomingEnvelope, OutgoingEnvelope, TraceHeaders } from "../contracts/envelope.js";
import type { ReceiptBatchBody, ReceiptMessage } from "../contracts/receipt.js";
import type { BatchContext, Settlement } from "../inbox/batch-consumer.js";

/**
 * The transport seam: what the relay, the inbox consumer and the admin routes need from a broker.
 * Artemis (AMQP 1.0, rhea) implements it today; Kafka is meant to implement it without special
 * cases. docs/transport-mapping.md maps every concept for both.
 */

/**
 * What became of one publish, as far as this process knows. The relay's settlement plan reads only
 * these kinds, never a broker's own codes.
 * - accepted: the broker has the message durably (a duplicate it dropped counts as accepted);
 * - rejected: the broker refused the message itself (counts as an attempt; dead after maxAttempts);
 * - released: not taken, sending again is fine (does not count);
 * - modified: not taken; `deliveryFailed` counts an attempt, `undeliverableHere` means never here;
 * - unknown: no outcome (connection lost, timed out). The broker may have it: resend, it is dropped
 *   as a duplicate by its deduplication id. `notSent`: never handed to the wire, cannot be there.
 */
export type PublishOutcome =
  | { kind: "accepted" }
  | { kind: "rejected"; reason: string }
  | { kind: "released" }
  | { kind: "modified"; deliveryFailed: boolean; undeliverableHere: boolean }
  | { kind: "unknown"; reason: string; notSent?: boolean };

export interface PublisherState {
  connected: boolean;
  /** The link (Artemis) or producer (Kafka) is ready to send. */
  linkOpen: boolean;
  sendable: boolean;
  inFlight: number;
  lastError: string | undefined;
}

export interface PublisherOptions {
  /** Where every message of this publisher goes: an Artemis address, a Kafka topic. */
  destination: string;
  /** A name unique per process (link name, client id); the transport may suffix it. */
  name: string;
  /** No outcome within this time: the publish is `unknown`. */
  sendTimeoutMs: number;
}

/**
 * Publishes envelopes to one destination. `publish()` never rejects: every failure is an outcome.
 * The envelope's `id` is the deduplication id (Artemis `_AMQ_DUPL_ID`, Kafka: the idempotent
 * producer covers resends within a session, the inbox covers the rest) and its `aggregateId` the
 * ordering key (Artemis message group, Kafka record key → partition) unless `ordered` is false.
 */
export interface TransportPublisher {
  start(): void;
  isSendable(): boolean;
  /** Resolves true once sendable, false after timeoutMs or when the signal aborts. */
  waitUntilSendable(timeoutMs: number, signal: AbortSignal): Promise<boolean>;
  publish(envelope: OutgoingEnvelope): Promise<PublishOutcome>;
  state(): PublisherState;
  /** Resolves pending publishes as `unknown` after timeoutMs and closes the link/producer. */
  close(timeoutMs?: number): Promise<void>;
}

/** The two contracts a transport carries, by name: what a consumer of each decodes to. */
export interface Contracts {
  /** Integration events (contracts/envelope.ts). */
  event: IncomingEnvelope;
  /** Delivery receipts back to the producer (contracts/receipt.ts). */
  receipt: ReceiptMessage;
}
export type ContractName = keyof Contracts;

/** One delivery as a consumer handler sees it: decoded, no broker types. */
export interface InboundMessage<T> {
  /** The producer's message id (an outbox id; a receipt's own id): the inbox key. */
  messageId: string;
  /** The ordering key (aggregate id), when the message has one. */
  key: string | undefined;
  value: T;
  trace: TraceHeaders;
  /** 1-based: how many times this delivery has been handed out (Artemis delivery-count + 1). */
  attempt: number;
  /** The transport's own message, for logs and transport-specific tests only. */
  native: unknown;
}

export interface ConsumerOptions<K extends ContractName, O extends Settlement> {
  contract: K;
  /** Where messages come from: an Artemis queue (one per consumer group), a Kafka topic. */
  source: string;
  /** The consumer group: Artemis → the group's queue on the address, Kafka → group.id. */
  group: string;
  /** Upper bound on deliveries being processed at once (Artemis link credit, Kafka paused fetch). */
  maxInFlight: number;
  /** Deliveries per batch, at most; 1 = one at a time. */
  batchSize: number;
  lingerMs: number;
  /**
   * Handle a batch (one transaction) and answer one settlement per delivery, in order. Batches
   * sharing a key run one after another in arrival order; others may run in parallel.
   */
  handle: (batch: readonly InboundMessage<Contracts[K]>[], context: BatchContext) => Promise<readonly O[]>;
  /** A delivery that does not decode: dead-lettered on arrival; told here for the record. */
  onUndecodable?: (reason: string, messageId: string | undefined) => void;
  /** True when the database answers; while false, consumption pauses. */
  probe?: () => Promise<boolean>;
  onSettled?: (outcome: O, message: InboundMessage<Contracts[K]>) => void;
  onResume?: () => void;
  stopTimeoutMs?: number;
  /** True: a batch formed while paused waits for the resume instead of running against a database known to be down. */
  waitWhilePaused?: boolean;
  /** Side work (e.g. failure records being written) that stop() waits for, at most timeoutMs, before detaching. */
  sideWork?: { pending: () => readonly Promise<unknown>[]; timeoutMs: number };
  /** When stop()'s budget runs out: give back what is still unsettled now (for idempotent handling). */
  releaseOnStopTimeout?: boolean;
  /** How long stop() waits for the broker to confirm it let go (link detach, group leave); 0: not at all. */
  detachTimeoutMs?: number;
}

export interface ConsumerState {
  attached: boolean;
  paused: boolean;
  inFlight: number;
  received: number;
  undecodable: number;
  /** Times consumption paused because the probe's dependency failed. */
  pauses: number;
  /** Probes run while paused. */
  probes: number;
}

export interface TransportConsumer {
  start(): void;
  state(): ConsumerState;
  /** Finishes or releases in-flight batches within its budget, then detaches. */
  stop(): Promise<void>;
}

/** Publishes delivery receipts (one per applied batch) to the producer's receipts destination. */
export interface ReceiptPublisher {
  start(): void;
  isSendable(): boolean;
  /** `id` is the receipt's deduplication id (contracts/receipt.ts receiptId). */
  publish(id: string, body: ReceiptBatchBody, trace: TraceHeaders): Promise<PublishOutcome>;
  state(): PublisherState;
  close(timeoutMs?: number): Promise<void>;
}

/** A dead-lettered message, as browsing lists it (no body: browsing is for triage). */
export interface DeadLetterEntry {
  /** The transport's id of the entry (Artemis: message id in the DLQ; Kafka: partition:offset). */
  id: string;
  messageId: string | undefined;
  type: string | undefined;
  version: number | undefined;
  key: string | undefined;
  correlationId: string | undefined;
  /** The destination and consumer group it was dead-lettered from. */
  origin: { destination: string | undefined; group: string | undefined };
  /** Why it was dead-lettered, when the transport records it. */
  reason: string | undefined;
  properties: Readonly<Record<string, unknown>>;
}

/** The dead letters of one consumer group of one source. */
export interface DeadLetterStore {
  count(): Promise<number>;
  /** Oldest first, at most `limit` (the transport may cap it lower; `count()` says how many in all). */
  browse(limit: number): Promise<DeadLetterEntry[]>;
  /** Back to the group it came from; false when no such entry. */
  replay(id: string): Promise<boolean>;
  replayAll(): Promise<number>;
  remove(id: string): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * What a system needs provisioned, declared as data: the AppHost (or an operator) creates it;
 * services only check it. Artemis: a multicast address per destination, a durable queue per group
 * with its DLQ; Kafka: a topic per destination, a group per consumer group, retry and dead-letter
 * topics per group.
 */
export interface TopologyDeclaration {
  destinations: readonly {
    name: string;
    /** Consumer groups that each get every message. */
    groups: readonly string[];
  }[];
}

export interface Transport {
  /** "artemis", "kafka": shown in health, metrics and logs. */
  readonly name: string;
  publisher(options: PublisherOptions): TransportPublisher;
  consumer<K extends ContractName, O extends Settlement>(options: ConsumerOptions<K, O>): TransportConsumer;
  receiptPublisher(options: PublisherOptions): ReceiptPublisher;
  deadLetters(source: string, group: string): DeadLetterStore;
  /** Opens the connection(s); reconnects on its own until close(). */
  open(): void;
  isConnected(): boolean;
  close(): Promise<void>;
}
