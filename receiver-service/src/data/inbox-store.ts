import { eq, sql } from "drizzle-orm";
import type { EventEnvelope } from "../domain/events.js";
import type { InboxStore, InboxUnitOfWork, NewReceivedItem, ReceivedItemUpdate } from "../domain/inbox.js";
import type { Database } from "./db.js";
import { inbox, receivedItems, receivedItemVersions } from "./schema.js";

type Transaction = Parameters<Parameters<Database["transaction"]>[0]>[0];

/** The inbox + effect tables behind the domain's unit of work, on drizzle/node-postgres. */
export class PgInboxStore implements InboxStore {
  constructor(private readonly db: Database) {}

  inTransaction<T>(work: (uow: InboxUnitOfWork) => Promise<T>): Promise<T> {
    // READ COMMITTED is enough: the primary keys serialise concurrent duplicates (a second
    // INSERT of the same key waits for the first transaction, then does nothing).
    return this.db.transaction((tx) => work(new PgInboxUnitOfWork(tx)));
  }
}

class PgInboxUnitOfWork implements InboxUnitOfWork {
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
