import type { InboxTransaction } from "@outbox/messaging";
import { inArray, max } from "drizzle-orm";
import { drizzle } from "drizzle-orm/node-postgres";
import type { AuditEntry, AuditLogUnitOfWork, AuditStore } from "../domain/record-audit-entry.js";
import type { Database } from "./db.js";
import * as schema from "./schema.js";
import { auditLog } from "./schema.js";

type Transaction = Parameters<Parameters<Database["transaction"]>[0]>[0];

/** The audit log on the inbox consumer's transaction (a pg client inside BEGIN). */
export function auditLogOn(tx: InboxTransaction): AuditLogUnitOfWork {
  return new PgAuditLogUnitOfWork(drizzle(tx, { schema }));
}

/** The audit log behind the audit use case, on drizzle/node-postgres. */
export class PgAuditStore implements AuditStore {
  constructor(private readonly db: Database) {}

  inTransaction<T>(work: (log: AuditLogUnitOfWork) => Promise<T>): Promise<T> {
    // READ COMMITTED is enough: version n is appended only once n - 1 is committed and visible, and
    // the unique keys (message id; aggregate + version) make a concurrent second append wait for
    // the first transaction and then do nothing.
    return this.db.transaction((tx) => work(new PgAuditLogUnitOfWork(tx)));
  }
}

class PgAuditLogUnitOfWork implements AuditLogUnitOfWork {
  constructor(private readonly tx: Transaction | Database) {}

  async loggedMessageIds(messageIds: readonly string[]): Promise<Set<string>> {
    if (messageIds.length === 0) return new Set();
    const rows = await this.tx
      .select({ messageId: auditLog.messageId })
      .from(auditLog)
      .where(inArray(auditLog.messageId, [...messageIds]));
    return new Set(rows.map((row) => row.messageId));
  }

  async latestVersions(aggregateIds: readonly string[]): Promise<Map<string, number>> {
    if (aggregateIds.length === 0) return new Map();
    const rows = await this.tx
      .select({ aggregateId: auditLog.aggregateId, version: max(auditLog.aggregateVersion) })
      .from(auditLog)
      .where(inArray(auditLog.aggregateId, [...aggregateIds]))
      .groupBy(auditLog.aggregateId);
    return new Map(rows.flatMap((row) => (row.version === null ? [] : [[row.aggregateId, row.version]])));
  }

  async append(entries: readonly AuditEntry[]): Promise<Set<string>> {
    if (entries.length === 0) return new Set();
    // In the given order: the position column numbers the rows as they are listed. No conflict
    // target: a concurrent append of the same message id or the same aggregate version is skipped.
    const rows = await this.tx
      .insert(auditLog)
      .values(
        entries.map(({ event, aggregateVersion }) => ({
          messageId: event.messageId,
          type: event.type,
          version: event.version,
          aggregateId: event.aggregateId,
          aggregateVersion,
          payload: event.payload,
        })),
      )
      .onConflictDoNothing()
      .returning({ messageId: auditLog.messageId });
    return new Set(rows.map((row) => row.messageId));
  }
}
