import { eq, inArray, sql } from "drizzle-orm";
import type { EventEnvelope } from "../domain/events.js";
import type {
  BatchInboxStore,
  BatchInboxUnitOfWork,
  InboxStore,
  NewReceivedItem,
  ReceivedItemUpdate,
} from "../domain/inbox.js";
import type { Database } from "./db.js";
import { inbox, receivedItems, receivedItemVersions } from "./schema.js";

type Transaction = Parameters<Parameters<Database["transaction"]>[0]>[0];

/** The inbox + effect tables behind the domain's unit of work, on drizzle/node-postgres. */
export class PgInboxStore implements InboxStore, BatchInboxStore {
  constructor(private readonly db: Database) {}

  inTransaction<T>(work: (uow: BatchInboxUnitOfWork) => Promise<T>): Promise<T> {
    // READ COMMITTED is enough: the primary keys serialise concurrent duplicates (a second
    // INSERT of the same key waits for the first transaction, then does nothing).
    return this.db.transaction((tx) => work(new PgInboxUnitOfWork(tx)));
  }

  inBatchTransaction<T>(work: (uow: BatchInboxUnitOfWork) => Promise<T>): Promise<T> {
    return this.inTransaction(work);
  }
}

class PgInboxUnitOfWork implements BatchInboxUnitOfWork {
  constructor(private readonly tx: Transaction) {}

  async recordMessage(envelope: EventEnvelope): Promise<boolean> {
    const rows = await this.tx
      .insert(inbox)
      .values({
        messageId: envelope.messageId,
        type: envelope.type,
        version: envelope.version,
        aggregateId: envelope.aggregateId,
      })
      .onConflictDoNothing({ target: inbox.messageId })
      .returning({ messageId: inbox.messageId });
    return rows.length === 1;
  }

  async recordMessages(envelopes: readonly EventEnvelope[]): Promise<Set<string>> {
    if (envelopes.length === 0) return new Set();
    // One statement for the batch. ON CONFLICT DO NOTHING also skips a second copy of an id
    // within the statement; RETURNING lists each new id once. Sorted by id so that two batches
    // with ids in common lock them in the same order instead of deadlocking.
    const sorted = [...envelopes].sort((a, b) =>
      a.messageId < b.messageId ? -1 : a.messageId > b.messageId ? 1 : 0,
    );
    const rows = await this.tx
      .insert(inbox)
      .values(
        sorted.map((envelope) => ({
          messageId: envelope.messageId,
          type: envelope.type,
          version: envelope.version,
          aggregateId: envelope.aggregateId,
        })),
      )
      .onConflictDoNothing({ target: inbox.messageId })
      .returning({ messageId: inbox.messageId });
    return new Set(rows.map((row) => row.messageId));
  }

  async forgetMessages(messageIds: readonly string[]): Promise<void> {
    if (messageIds.length === 0) return;
    await this.tx.delete(inbox).where(inArray(inbox.messageId, [...messageIds]));
  }

  async markAllProcessed(messageIds: readonly string[]): Promise<void> {
    await this.tx
      .update(inbox)
      .set({ processedAt: sql`clock_timestamp()` })
      .where(inArray(inbox.messageId, [...messageIds]));
  }

  async insertReceivedItem(item: NewReceivedItem): Promise<boolean> {
    const rows = await this.tx
      .insert(receivedItems)
      .values(item)
      .onConflictDoNothing({ target: receivedItems.id })
      .returning({ id: receivedItems.id });
    if (rows.length === 1)
      await this.tx
        .insert(receivedItemVersions)
        .values({ entityId: item.id, version: 1, messageId: item.messageId });
    return rows.length === 1;
  }

  async lockReceivedItemVersion(id: string): Promise<number | undefined> {
    const rows = await this.tx
      .select({ version: receivedItems.version })
      .from(receivedItems)
      .where(eq(receivedItems.id, id))
      .for("update");
    return rows[0]?.version;
  }

  async applyReceivedItemUpdate(update: ReceivedItemUpdate): Promise<void> {
    await this.tx
      .update(receivedItems)
      .set({
        name: update.name,
        description: update.description,
        version: update.version,
        sourceUpdatedAt: update.sourceUpdatedAt,
      })
      .where(eq(receivedItems.id, update.id));
    // The primary key (entity, version) makes a second application of a version fail loudly.
    await this.tx
      .insert(receivedItemVersions)
      .values({ entityId: update.id, version: update.version, messageId: update.messageId });
  }

  async markProcessed(messageId: string): Promise<void> {
    // clock_timestamp(), not now(): now() is the transaction start, i.e. received_at.
    await this.tx
      .update(inbox)
      .set({ processedAt: sql`clock_timestamp()` })
      .where(eq(inbox.messageId, messageId));
  }
}
