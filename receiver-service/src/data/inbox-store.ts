import { eq, sql } from "drizzle-orm";
import type { EventEnvelope } from "../domain/events.js";
import type { InboxStore, InboxUnitOfWork, NewReceivedItem } from "../domain/inbox.js";
import type { Database } from "./db.js";
import { inbox, receivedItems } from "./schema.js";

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
    return rows.length === 1;
  }

  async markProcessed(messageId: string): Promise<void> {
    // clock_timestamp(), not now(): now() is the transaction start, i.e. received_at.
    await this.tx
      .update(inbox)
      .set({ processedAt: sql`clock_timestamp()` })
      .where(eq(inbox.messageId, messageId));
  }
}
