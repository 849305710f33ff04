import { drizzle } from "drizzle-orm/node-postgres";
import { describe, expect, it } from "vitest";
import { enqueueMessage, UnorderedOptionsError, type EnqueueOptions, type OutboxMessage } from "./enqueue.js";
import { outboxTables } from "./tables.js";

type Statement = { text: string; values: unknown[] };

/** A pg client that records each statement instead of running it. */
function recordingClient(): {
  client: { query(text: string, values: unknown[]): Promise<unknown> };
  statements: Statement[];
} {
  const statements: Statement[] = [];
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
  return { client, statements };
}

/** A drizzle database over a recording client (the node-postgres driver only calls query()). */
function recordingDrizzle(): { db: ReturnType<typeof drizzle>; statements: Statement[] } {
  const { client, statements } = recordingClient();
  return { db: drizzle({ client: client as never }), statements };
}

const tables = outboxTables();
const message: OutboxMessage = {
  id: "0190a0b0-0000-7000-8000-000000000001",
  aggregateType: "Test",
  key: "a-1",
  type: "TestEvent",
  version: 1,
  destination: "entity-items",
  payload: { n: 1 },
};

function enqueue(tx: Parameters<typeof enqueueMessage>[0], m: OutboxMessage, options?: EnqueueOptions) {
  return enqueueMessage(tx, tables, "outbox_messages", m, options);
}

describe("enqueue's order guard", () => {
  it("refuses deliverAt or a priority in the options unless ordered is false", async () => {
    const { db, statements } = recordingDrizzle();
    await expect(enqueue(db, message, { deliverAt: new Date() })).rejects.toThrow(UnorderedOptionsError);
    await expect(enqueue(db, message, { priority: 9 })).rejects.toThrow(UnorderedOptionsError);
    expect(statements).toHaveLength(0);
    await enqueue(db, message, { priority: 9, ordered: false });
    expect(statements).toHaveLength(1);
  });

  // The bypass: a loosely typed object compiles against the producer's input type.
  it.each<[string, Record<string, unknown>]>([
    ["deliverAt", { deliverAt: new Date(Date.now() + 60_000) }],
    ["priority", { priority: 9 }],
    ["ordered", { ordered: false }],
  ])("refuses %s given in the message itself instead of the options", async (column, extra) => {
    const { db, statements } = recordingDrizzle();
    const row = { ...message, ...extra };
    await expect(enqueue(db, row)).rejects.toThrow(
      new TypeError(`outbox message: pass ${column} in the send options, not in the message`),
    );
    expect(statements).toHaveLength(0);
  });

  it.each<[string, Record<string, unknown>]>([
    ["status", { status: "published" }],
    ["attempts", { attempts: 3 }],
    ["claimToken", { claimToken: "0190a0b0-0000-7000-8000-0000000000ff" }],
    ["outcomeUnknown", { outcomeUnknown: true }],
  ])("refuses the relay's column %s in the message", async (column, extra) => {
    const { db, statements } = recordingDrizzle();
    const row = { ...message, ...extra };
    await expect(enqueue(db, row)).rejects.toThrow(
      new TypeError(`outbox message: ${column} is set by the relay, not by the producer`),
    );
    expect(statements).toHaveLength(0);
  });

  it("writes the options' columns, and an undefined extra field is ignored", async () => {
    const { db, statements } = recordingDrizzle();
    const deliverAt = new Date("2030-01-01T00:00:00.000Z");
    const row = { ...message, status: undefined } as OutboxMessage;
    await enqueue(db, row, { deliverAt, priority: 7, ordered: false });
    const [statement] = statements;
    // Twelve parameters: eight message columns, priority, deliver_at, ordered, the channel.
    expect(statement?.values).toHaveLength(12);
    expect(statement?.values).toEqual(expect.arrayContaining([7, false, "outbox_messages"]));
    expect(statement?.values).toContainEqual(deliverAt);
  });
});

describe("enqueue's input", () => {
  it("runs on a plain pg client: one statement that inserts and notifies, with defaults filled in", async () => {
    const { client, statements } = recordingClient();
    const id = await enqueue(client, { type: "T", key: "k", destination: "d", payload: [1, 2] });
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(statements).toHaveLength(1);
    const [statement] = statements;
    expect(statement?.text).toMatch(/insert into "outbox_messages"/);
    expect(statement?.text).toMatch(/pg_notify\(\$12, destination\)/);
    // id, aggregate type "", key, type, version 1, destination, payload as JSON text (an array
    // must not become a PostgreSQL array), headers, priority 4, no deliverAt, ordered.
    expect(statement?.values).toEqual([
      id,
      "",
      "k",
      "T",
      1,
      "d",
      "[1,2]",
      "{}",
      4,
      null,
      true,
      "outbox_messages",
    ]);
  });

  it("uses the schema and prefix of its tables", async () => {
    const { client, statements } = recordingClient();
    const custom = outboxTables({ schema: "notes_app", tablePrefix: "n_" });
    await enqueueMessage(client, custom, "notes_app.n_outbox_messages", { ...message });
    expect(statements[0]?.text).toMatch(/insert into "notes_app"."n_outbox_messages"/);
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ["a missing type", { type: undefined }, /type must be a non-empty string/],
    ["an empty key", { key: "" }, /key must be a non-empty string/],
    [
      "aggregateId instead of key",
      { key: undefined, aggregateId: "a" },
      /unknown field aggregateId \(the ordering key is `key`\)/,
    ],
    ["a non-UUID id", { id: "42" }, /id must be a UUID/],
    ["a zero version", { version: 0 }, /version must be a positive integer/],
    ["a fractional version", { version: 1.5 }, /version must be a positive integer/],
    ["an undefined payload", { payload: undefined }, /payload must be a JSON value/],
    ["a missing destination", { destination: undefined }, /destination must be a non-empty string/],
  ])("refuses %s", async (_, change, error) => {
    const { client, statements } = recordingClient();
    await expect(enqueue(client, { ...message, ...change })).rejects.toThrow(error);
    expect(statements).toHaveLength(0);
  });

  it("refuses bad options and a transaction that is neither pg nor drizzle", async () => {
    const { client } = recordingClient();
    await expect(enqueue(client, message, { priority: 10, ordered: false })).rejects.toThrow(/integer 0..9/);
    await expect(enqueue(client, message, { deliverAt: new Date("nope"), ordered: false })).rejects.toThrow(
      /deliverAt must be a valid Date/,
    );
    await expect(enqueue(client, message, { later: true } as EnqueueOptions)).rejects.toThrow(
      /unknown option later/,
    );
    await expect(enqueue({} as never, message)).rejects.toThrow(/must be a pg client/);
  });
});
