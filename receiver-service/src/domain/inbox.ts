import type { VersionGapError } from "./apply-entity-item-updated.js";
import type { EventEnvelope } from "./events.js";

/** A received entity as the receiver stores it. */
export interface NewReceivedItem {
  id: string;
  messageId: string;
  name: string;
  description: string | null;
  sourceCreatedAt: Date;
}

/** The new state an EntityItemUpdated brings. */
export interface ReceivedItemUpdate {
  id: string;
  messageId: string;
  name: string;
  description: string | null;
  version: number;
  sourceUpdatedAt: Date;
}

/** What the use cases may do inside the one transaction that covers inbox row + effect. */
export interface InboxUnitOfWork {
  /** Records the message id; false when it was already recorded (a redelivery or resend). */
  recordMessage(envelope: EventEnvelope): Promise<boolean>;
  /** Inserts the entity copy; false when an entity with that id already exists. */
  insertReceivedItem(item: NewReceivedItem): Promise<boolean>;
  markProcessed(messageId: string): Promise<void>;
  /** The version of the entity copy, locked until the transaction ends; undefined when absent. */
  lockReceivedItemVersion(id: string): Promise<number | undefined>;
  /** Writes the new state and version (the caller checked it is the current version + 1). */
  applyReceivedItemUpdate(update: ReceivedItemUpdate): Promise<void>;
}

/** Runs work in one database transaction: everything commits, or nothing does. */
export interface InboxStore {
  inTransaction<T>(work: (uow: InboxUnitOfWork) => Promise<T>): Promise<T>;
}

/**
 * applied: first time we see this message, effect written.
 * duplicate: the message id was processed before; nothing written.
 * already-applied: new message id, but the entity already exists (the producer re-published the
 *   same entity under a new id); the inbox remembers the message, the effect is not repeated.
 */
export type ApplyResult = "applied" | "duplicate" | "already-applied";

/**
 * One event's result in a batch: as for a single event, or the version gap that deferred it (its
 * predecessor is not applied yet; nothing of it was written, the rest of the batch still commits).
 */
export type BatchApplyResult = ApplyResult | VersionGapError;

/** A unit of work that can also record many message ids at once (batched application). */
export interface BatchInboxUnitOfWork extends InboxUnitOfWork {
  /**
   * Records every message id in one statement; returns the ids that were new (not recorded before
   * nor earlier in the same call). A concurrent transaction recording the same id wins or waits.
   */
  recordMessages(envelopes: readonly EventEnvelope[]): Promise<Set<string>>;
  /** Removes these message ids recorded earlier in the same transaction (events deferred by a gap). */
  forgetMessages(messageIds: readonly string[]): Promise<void>;
  /** Marks these message ids processed, in one statement. */
  markAllProcessed(messageIds: readonly string[]): Promise<void>;
}

/** Runs a batch in one database transaction: everything commits, or nothing does. */
export interface BatchInboxStore {
  inBatchTransaction<T>(work: (uow: BatchInboxUnitOfWork) => Promise<T>): Promise<T>;
}
