import type { InboxResult } from "@outbox/messaging";
import type { VersionGapError } from "./apply-entity-item-updated.js";

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

/**
 * What the receiver group's handlers may do inside the inbox's transaction (the library has just
 * recorded the message id in it): the entity copies and their versions.
 */
export interface ReceivedItemsUnitOfWork {
  /** Inserts the entity copy; false when an entity with that id already exists. */
  insertReceivedItem(item: NewReceivedItem): Promise<boolean>;
  /** The version of the entity copy, locked until the transaction ends; undefined when absent. */
  lockReceivedItemVersion(id: string): Promise<number | undefined>;
  /** Writes the new state and version (the caller checked it is the current version + 1). */
  applyReceivedItemUpdate(update: ReceivedItemUpdate): Promise<void>;
}

/**
 * applied: first time we see this message, effect written.
 * duplicate: the message id was processed before; nothing written.
 * already-applied: new message id, but the change is already there (the producer re-published the
 *   same entity under a new id); the inbox remembers the message, the effect is not repeated.
 */
export type ApplyResult = InboxResult;

/**
 * One event's result in a batch: as for a single event, or the version gap that deferred it (its
 * predecessor is not applied yet; nothing of it was written, the rest of the batch still commits).
 */
export type BatchApplyResult = ApplyResult | VersionGapError;
