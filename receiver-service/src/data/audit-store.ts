import type { AuditStore, BatchAuditStore } from "../domain/record-audit-entry.js";
import type { IncomingEvent } from "../domain/events.js";
import type { Database } from "./db.js";
import { auditLog } from "./schema.js";

export class PgAuditStore implements AuditStore, BatchAuditStore {
  constructor(private readonly db: Database) {}

  async append(event: IncomingEvent): Promise<boolean> {
    // ON CONFLICT DO NOTHING: a concurrent insert of the same id waits for the other transaction
    // and then does nothing, so two instances never both log a message, and neither crashes.
    const rows = await this.db
      .insert(auditLog)
      .values({
        messageId: event.messageId,
        type: event.type,
        version: event.version,
        aggregateId: event.aggregateId,
        payload: event.payload,
      })
      .onConflictDoNothing({ target: auditLog.messageId })
      .returning({ messageId: auditLog.messageId });
    return rows.length === 1;
  }

  async appendAll(events: readonly IncomingEvent[]): Promise<Set<string>> {
    if (events.length === 0) return new Set();
    const rows = await this.db
      .insert(auditLog)
      .values(
        events.map((event) => ({
          messageId: event.messageId,
          type: event.type,
          version: event.version,
          aggregateId: event.aggregateId,
          payload: event.payload,
        })),
      )
      .onConflictDoNothing({ target: auditLog.messageId })
      .returning({ messageId: auditLog.messageId });
    return new Set(rows.map((row) => row.messageId));
  }
}
