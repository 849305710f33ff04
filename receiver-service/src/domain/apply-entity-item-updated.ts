import { RetryLaterError } from "@outbox/messaging";
import type { EntityItemUpdatedEvent } from "./events.js";
import type { ReceivedItemsUnitOfWork } from "./inbox.js";

/**
 * The update arrived before the version it builds on (or before the entity itself): applying it
 * would skip a version or apply them out of order. Transient on purpose: the message is redelivered
 * later, by when its predecessor has been applied (a RetryLaterError: found before anything of the
 * update is written, so the rest of its batch commits). The message says "version gap" so that such
 * arrivals can be counted (delivery_failures).
 */
export class VersionGapError extends RetryLaterError {
  constructor(
    readonly entityId: string,
    readonly currentVersion: number | undefined,
    readonly eventVersion: number,
  ) {
    super(
      `version gap: EntityItem ${entityId} is at ${currentVersion ?? "no version (not received yet)"}, ` +
        `the update brings ${eventVersion}; waiting for ${(currentVersion ?? 0) + 1}`,
    );
  }

  override name = "VersionGapError";
}

/**
 * The effect of EntityItemUpdated, for a message id the inbox has just recorded in the same
 * transaction, in version order: version n only on top of n - 1, checked under the entity's row
 * lock (two deliveries of the same aggregate can never both pass). An older or equal version is a
 * duplicate by content (already applied under another message id): recorded, not repeated.
 */
export async function entityItemUpdatedEffect(
  uow: ReceivedItemsUnitOfWork,
  event: EntityItemUpdatedEvent,
): Promise<"applied" | "already-applied"> {
  const { id, version } = event.payload;
  const current = await uow.lockReceivedItemVersion(id);
  if (current === undefined || current < version - 1) throw new VersionGapError(id, current, version);
  if (current >= version) return "already-applied";
  await uow.applyReceivedItemUpdate({
    id,
    messageId: event.messageId,
    name: event.payload.name,
    description: event.payload.description,
    version,
    sourceUpdatedAt: new Date(event.payload.updatedAt),
  });
  return "applied";
}
