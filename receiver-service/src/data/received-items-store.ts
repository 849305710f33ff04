import type { InboxTransaction } from "@outbox/messaging";
import { drizzle } from "drizzle-orm/node-postgres";
import { eq } from "drizzle-orm";
import type { NewReceivedItem, ReceivedItemUpdate, ReceivedItemsUnitOfWork } from "../domain/inbox.js";
import type { Database } from "./db.js";
import * as schema from "./schema.js";
import { receivedItems, receivedItemVersions } from "./schema.js";

/** One unit of work per inbox transaction (a batch's handlers share it). */
const byTransaction = new WeakMap<InboxTransaction, PgReceivedItems>();

/** The entity copies on the inbox's transaction (a pg client inside BEGIN), through drizzle. */
export function receivedItemsOn(tx: InboxTransaction): ReceivedItemsUnitOfWork {
  let uow = byTransaction.get(tx);
  if (uow === undefined) {
    uow = new PgReceivedItems(drizzle(tx, { schema }));
    byTransaction.set(tx, uow);
  }
  return uow;
}

class PgReceivedItems implements ReceivedItemsUnitOfWork {
  constructor(private readonly tx: Database) {}

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
}
