import type { DeadLetterEntry, DeadLetterStore } from "@outbox/messaging";
import { describe, expect, it } from "vitest";
import {
  numericDeadLetterId,
  partitionOffsetDeadLetters,
  partitionOffsetId,
} from "./dead-letter-operations.js";

function entry(id: string, extra: Partial<DeadLetterEntry> = {}): DeadLetterEntry {
  return {
    id,
    messageId: `m-${id}`,
    type: "EntityItemCreated",
    version: 1,
    key: "agg-1",
    correlationId: undefined,
    origin: { destination: "entity-items", group: "receiver" },
    reason: "poison",
    properties: { "message-id": `m-${id}` },
    ...extra,
  };
}

/** A store of fixed entries that records what it was asked. */
function fakeStore(entries: DeadLetterEntry[]): DeadLetterStore & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    count: () => Promise.resolve(entries.length),
    browse: (limit) => {
      calls.push(`browse ${limit}`);
      return Promise.resolve(entries.slice(0, limit));
    },
    replay: (id) => {
      calls.push(`replay ${id}`);
      return Promise.resolve(entries.some((e) => e.id === id));
    },
    replayAll: () => Promise.resolve(entries.length),
    remove: (id) => {
      calls.push(`remove ${id}`);
      return Promise.resolve(entries.some((e) => e.id === id));
    },
    close: () => Promise.resolve(),
  };
}

describe("dead-letter ids", () => {
  it("round-trips partition:offset through a safe integer", () => {
    for (const id of ["0:0", "0:17", "2:41", "8191:1099511627775"]) {
      const n = numericDeadLetterId(id);
      expect(Number.isSafeInteger(n), id).toBe(true);
      expect(partitionOffsetId(n!)).toBe(id);
    }
    expect(numericDeadLetterId("0:5")).toBe(5);
    expect(numericDeadLetterId("1:0")).toBe(2 ** 40);
  });

  it("keeps a decimal id and refuses anything else", () => {
    expect(numericDeadLetterId("123")).toBe(123);
    for (const bad of ["", "-1", "1:", ":1", "a:1", "8192:0", "0:1099511627776", "1:2:3"])
      expect(numericDeadLetterId(bad), bad).toBeUndefined();
    expect(partitionOffsetId(-1)).toBeUndefined();
    expect(partitionOffsetId(1.5)).toBeUndefined();
  });
});

describe("partitionOffsetDeadLetters", () => {
  it("lists entries as the routes' letters, with numeric ids and the group's queue", async () => {
    const store = fakeStore([entry("1:7")]);
    const dlq = partitionOffsetDeadLetters(store, "entity-items.receiver.dlt");
    expect(dlq.queue).toBe("entity-items.receiver.dlt");
    const [letter] = await dlq.browse(500);
    expect(store.calls).toEqual(["browse 200"]);
    expect(letter).toEqual({
      id: 2 ** 40 + 7,
      messageId: "m-1:7",
      type: "EntityItemCreated",
      version: 1,
      groupId: "agg-1",
      correlationId: undefined,
      originalAddress: "entity-items",
      originalQueue: "entity-items.receiver",
      properties: { "message-id": "m-1:7", reason: "poison" },
    });
  });

  it("replays and removes by the store's own id; an id it cannot name is not found", async () => {
    const store = fakeStore([entry("1:7")]);
    const dlq = partitionOffsetDeadLetters(store, "t.g.dlt");
    expect(await dlq.replay(2 ** 40 + 7)).toBe(true);
    expect(await dlq.remove(2 ** 40 + 7)).toBe(true);
    expect(await dlq.replay(-3)).toBe(false);
    expect(store.calls).toEqual(["replay 1:7", "remove 1:7"]);
  });

  it("fails loudly on an entry whose id is not partition:offset", async () => {
    const dlq = partitionOffsetDeadLetters(fakeStore([entry("42")]), "t.g.dlt");
    await expect(dlq.browse(10)).rejects.toThrow(/dead letter id "42" of t.g.dlt is not partition:offset/);
  });
});
