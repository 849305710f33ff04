import type pg from "pg";
import { describe, expect, it, vi } from "vitest";
import { z } from "zod";
import type { IncomingEnvelope } from "../contracts/envelope.js";
import type { InboundMessage } from "../transport/transport.js";
import { defineMessageTypes, messageVersion } from "./handler-registry.js";
import { inboxTables } from "./inbox-tables.js";
import {
  createInboxBatchProcessor,
  type AcceptedOutcome,
  type InboxBatchItem,
  type InboxHandlerResult,
} from "./process-inbox-batch.js";
import { RetryLaterError } from "./retry-later.js";

// The batch processor's decisions, on an in-memory stand-in for PostgreSQL that keeps the inbox rows
// per transaction (BEGIN … COMMIT / ROLLBACK). The real database: test/messaging-inbox*.test.ts.

/** The inbox table's rows as committed, and every transaction's fate. */
class MemoryDatabase {
  committed = new Set<string>();
  transactions: Array<"commit" | "rollback"> = [];

  pool(): pg.Pool {
    return { connect: () => Promise.resolve(this.client()) } as unknown as pg.Pool;
  }

  private client(): pg.PoolClient {
    let staged = new Set(this.committed);
    const query = (text: string, values: unknown[] = []): Promise<{ rows: unknown[] }> => {
      if (text === "BEGIN") staged = new Set(this.committed);
      else if (text === "COMMIT") {
        this.committed = staged;
        this.transactions.push("commit");
      } else if (text === "ROLLBACK") this.transactions.push("rollback");
      else if (text.startsWith("INSERT INTO")) {
        const fresh = (values[1] as string[]).filter((id) => !staged.has(id));
        for (const id of fresh) staged.add(id);
        return Promise.resolve({ rows: [...new Set(fresh)].map((message_id) => ({ message_id })) });
      } else if (text.startsWith("DELETE FROM")) {
        for (const id of values[1] as string[]) staged.delete(id);
      }
      return Promise.resolve({ rows: [] });
    };
    return { query, release: () => undefined } as unknown as pg.PoolClient;
  }
}

const types = defineMessageTypes({ Note: { 1: messageVersion(z.object({ text: z.string() })) } });

function pgError(code: string): Error {
  return Object.assign(new Error(`sqlstate ${code}`), { code });
}

/** What each text does in the handler: ok, a data error, a version gap, an unreachable database. */
const handler = vi.fn((message: { payload: { text: string } }): Promise<InboxHandlerResult> => {
  switch (message.payload.text) {
    case "bad":
      return Promise.reject(pgError("23514"));
    case "gap":
      return Promise.reject(new RetryLaterError("version gap"));
    case "down":
      return Promise.reject(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }));
    case "again":
      return Promise.resolve("already-applied");
    default:
      return Promise.resolve(undefined);
  }
});

function item(messageId: string, text: string, type = "Note"): InboxBatchItem {
  const message: InboundMessage<IncomingEnvelope> = {
    messageId,
    key: `k-${messageId}`,
    value: { messageId, type, version: 1, aggregateId: `k-${messageId}`, payload: { text } },
    trace: {},
    attempt: 1,
    native: undefined,
  };
  return { message, run: (work) => work() };
}

function processor(
  db: MemoryDatabase,
  afterCommit?: (accepted: readonly AcceptedOutcome[]) => Promise<void>,
) {
  handler.mockClear();
  const onFallback = vi.fn();
  const process = createInboxBatchProcessor({
    pool: db.pool(),
    tables: inboxTables({ schema: "public", tablePrefix: "" }),
    group: "g",
    handlers: { registry: types.registry({ Note: (message) => handler(message) }) },
    ungrouped: () => false,
    ...(afterCommit !== undefined ? { afterCommit } : {}),
    onFallback,
  });
  return { process, onFallback };
}

const actions = (outcomes: readonly { action: string; result?: string }[]) =>
  outcomes.map((o) => (o.action === "accept" ? o.result : o.action));

describe("createInboxBatchProcessor", () => {
  it("applies the valid messages in one transaction and rejects an unreadable one on its own", async () => {
    const db = new MemoryDatabase();
    const { process } = processor(db);
    const result = await process([
      item("a", "ok"),
      item("b", "x", "Unknown"),
      item("c", "again"),
      item("a", "ok"),
    ]);
    expect(actions(result.outcomes)).toEqual(["applied", "reject", "already-applied", "duplicate"]);
    expect(result.fellBack).toBe(false);
    expect(db.transactions).toEqual(["commit"]);
    expect(db.committed).toEqual(new Set(["a", "c"]));
  });

  it("falls back to one at a time, in order, when the batch fails: only the failing message fails", async () => {
    const db = new MemoryDatabase();
    const { process, onFallback } = processor(db);
    const result = await process([item("a", "ok"), item("b", "bad"), item("c", "ok")]);
    expect(actions(result.outcomes)).toEqual(["applied", "reject", "applied"]);
    expect(result.fellBack).toBe(true);
    expect(onFallback).toHaveBeenCalledOnce();
    expect(db.transactions).toEqual(["rollback", "commit", "rollback", "commit"]);
    expect(db.committed).toEqual(new Set(["a", "c"]));
  });

  it("defers a RetryLaterError on its own: no inbox row, the rest commits, no fallback and no pause", async () => {
    const db = new MemoryDatabase();
    const { process } = processor(db);
    const result = await process([item("a", "ok"), item("b", "gap"), item("c", "ok")]);
    expect(result.outcomes[1]).toEqual({ action: "retry", reason: "version gap", messageId: "b" });
    expect(actions(result.outcomes)).toEqual(["applied", "retry", "applied"]);
    expect(result.fellBack).toBe(false);
    expect(db.committed).toEqual(new Set(["a", "c"]));
  });

  it("retries the whole batch at once when the database is unreachable, and asks for a pause", async () => {
    const db = new MemoryDatabase();
    const { process, onFallback } = processor(db);
    const result = await process([item("a", "ok"), item("b", "down")]);
    expect(result.outcomes).toEqual([
      expect.objectContaining({ action: "retry", messageId: "a", databaseUnavailable: true }),
      expect.objectContaining({ action: "retry", messageId: "b", databaseUnavailable: true }),
    ]);
    expect(onFallback).not.toHaveBeenCalled();
    expect(db.committed.size).toBe(0);
  });

  it("classifies a lone message's errors: data error → reject, unknown → retry without a pause", async () => {
    const db = new MemoryDatabase();
    const { process } = processor(db);
    expect((await process([item("a", "bad")])).outcomes).toEqual([
      { action: "reject", reason: "[23514] sqlstate 23514", messageId: "a" },
    ]);
    handler.mockImplementationOnce(() => Promise.reject(new Error("bug")));
    expect((await process([item("b", "ok")])).outcomes).toEqual([
      { action: "retry", reason: "bug", messageId: "b" },
    ]);
  });

  it("runs the follow-up (one receipt) once for every committed message, duplicates included", async () => {
    const db = new MemoryDatabase();
    db.committed.add("old");
    const afterCommit = vi.fn(() => Promise.resolve());
    const { process } = processor(db, afterCommit);
    await process([item("a", "ok"), item("old", "ok"), item("b", "gap"), item("c", "x", "Unknown")]);
    expect(afterCommit).toHaveBeenCalledOnce();
    expect(afterCommit.mock.calls[0]).toEqual([
      [
        { action: "accept", result: "applied", messageId: "a", type: "Note", key: "k-a" },
        { action: "accept", result: "duplicate", messageId: "old", type: "Note", key: "k-old" },
      ],
    ]);
  });

  it("retries every committed message when the follow-up fails, and sends none when nothing committed", async () => {
    const db = new MemoryDatabase();
    const afterCommit = vi.fn(() => Promise.reject(new Error("broker gone")));
    const { process } = processor(db, afterCommit);
    const result = await process([item("a", "ok"), item("b", "ok")]);
    expect(result.outcomes).toEqual(
      ["a", "b"].map((messageId) => ({
        action: "retry",
        reason: "applied, but the follow-up failed: broker gone",
        messageId,
      })),
    );
    afterCommit.mockClear();
    await process([item("c", "bad")]);
    expect(afterCommit).not.toHaveBeenCalled();
  });
});
