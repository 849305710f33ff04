import { drizzle } from "drizzle-orm/node-postgres";
import { describe, expect, it } from "vitest";
import {
  insertOutboxMessage,
  UnorderedOptionsError,
  type OutboxMessageInput,
  type OutboxSendOptions,
} from "./outbox.js";
import * as schema from "./schema.js";
import type { NewOutboxMessage } from "./schema.js";

/** A drizzle database over a client that records each statement instead of running it. */
function recordingDatabase(): {
  db: ReturnType<typeof drizzle<typeof schema>>;
  statements: Array<{ text: string; values: unknown[] }>;
} {
  const statements: Array<{ text: string; values: unknown[] }> = [];
  const client = {
    query(config: string | { text: string; values?: unknown[] }, values?: unknown[]) {
      const text = typeof config === "string" ? config : config.text;
      statements.push({
        text,
        values: (typeof config === "string" ? values : config.values) ?? values ?? [],
      });
      return Promise.resolve({ rows: [], rowCount: 0, fields: [], command: "SELECT" });
    },
  };
  // The node-postgres driver only calls query() on its client.
  const db = drizzle({ client: client as never, schema });
  return { db, statements };
}

const message: OutboxMessageInput = {
  id: "0190a0b0-0000-7000-8000-000000000001",
  aggregateType: "Test",
  aggregateId: "a-1",
  type: "TestEvent",
  version: 1,
  destination: "entity-items",
  payload: { n: 1 },
};

describe("insertOutboxMessage's order guard", () => {
  it("refuses deliverAt or a priority in the options unless ordered is false", async () => {
    const { db, statements } = recordingDatabase();
    await expect(insertOutboxMessage(db, message, { deliverAt: new Date() })).rejects.toThrow(
      UnorderedOptionsError,
    );
    await expect(insertOutboxMessage(db, message, { priority: 9 })).rejects.toThrow(UnorderedOptionsError);
    expect(statements).toHaveLength(0);
    await insertOutboxMessage(db, message, { priority: 9, ordered: false });
    expect(statements).toHaveLength(1);
  });

  // The bypass: the row type has these columns too, and a row object typed as NewOutboxMessage
  // (what the test helpers build) compiles against the producer's input type.
  it.each<[string, Partial<NewOutboxMessage>]>([
    ["deliverAt", { deliverAt: new Date(Date.now() + 60_000) }],
    ["priority", { priority: 9 }],
    ["ordered", { ordered: false }],
  ])("refuses %s given in the message itself instead of the options", async (column, extra) => {
    const { db, statements } = recordingDatabase();
    const row: NewOutboxMessage = { ...message, ...extra };
    await expect(insertOutboxMessage(db, row)).rejects.toThrow(
      new TypeError(`outbox message: pass ${column} in the send options, not in the message`),
    );
    expect(statements).toHaveLength(0);
  });

  it.each<[string, Partial<NewOutboxMessage>]>([
    ["status", { status: "published" }],
    ["attempts", { attempts: 3 }],
    ["claimToken", { claimToken: "0190a0b0-0000-7000-8000-0000000000ff" }],
    ["outcomeUnknown", { outcomeUnknown: true }],
  ])("refuses the relay's column %s in the message", async (column, extra) => {
    const { db, statements } = recordingDatabase();
    const row: NewOutboxMessage = { ...message, ...extra };
    await expect(insertOutboxMessage(db, row)).rejects.toThrow(
      new TypeError(`outbox message: ${column} is set by the relay, not by the producer`),
    );
    expect(statements).toHaveLength(0);
  });

  it("writes the options' columns, and an undefined extra column is ignored", async () => {
    const { db, statements } = recordingDatabase();
    const deliverAt = new Date("2030-01-01T00:00:00.000Z");
    const options: OutboxSendOptions = { deliverAt, priority: 7, ordered: false };
    const row: NewOutboxMessage = { ...message, status: undefined };
    await insertOutboxMessage(db, row, options);
    const [statement] = statements;
    // Eleven parameters: the eight producer columns, ordered, priority, deliver_at (+ the channel).
    expect(statement?.values).toHaveLength(11);
    expect(statement?.values).toEqual(expect.arrayContaining([7, deliverAt.toISOString(), false]));
  });
});
