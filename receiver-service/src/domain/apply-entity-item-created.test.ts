import { describe, expect, it } from "vitest";
import { applyEntityItemCreated } from "./apply-entity-item-created.js";
import type { IncomingEvent } from "./events.js";
import type { InboxStore, InboxUnitOfWork, NewReceivedItem } from "./inbox.js";

/** In-memory store with all-or-nothing transactions, like the database. */
class MemoryStore implements InboxStore {
  inbox = new Map<string, { processed: boolean }>();
  items = new Map<string, NewReceivedItem>();
  failNextInsert = false;

  async inTransaction<T>(work: (uow: InboxUnitOfWork) => Promise<T>): Promise<T> {
    const inbox = new Map(this.inbox);
    const items = new Map(this.items);
    const uow: InboxUnitOfWork = {
      recordMessage: (envelope) => {
        if (inbox.has(envelope.messageId)) return Promise.resolve(false);
        inbox.set(envelope.messageId, { processed: false });
        return Promise.resolve(true);
      },
      insertReceivedItem: (item) => {
        if (this.failNextInsert) {
          this.failNextInsert = false;
          return Promise.reject(new Error("database went away"));
        }
        if (items.has(item.id)) return Promise.resolve(false);
        items.set(item.id, item);
        return Promise.resolve(true);
      },
      markProcessed: (messageId) => {
        inbox.set(messageId, { processed: true });
        return Promise.resolve();
      },
    };
    const result = await work(uow);
    this.inbox = inbox;
    this.items = items;
    return result;
  }
}

function event(messageId: string, entityId = "0193a5b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b"): IncomingEvent {
  return {
    messageId,
    type: "EntityItemCreated",
    version: 1,
    aggregateId: entityId,
    payload: {
      item: { id: entityId, name: "Widget", description: "d" },
      createdAt: "2026-11-23T20:00:00.000Z",
    },
  };
}

describe("applyEntityItemCreated", () => {
  it("applies a new message once and skips its redelivery", async () => {
    const store = new MemoryStore();
    expect(await applyEntityItemCreated(store, event("m1"))).toBe("applied");
    expect(await applyEntityItemCreated(store, event("m1"))).toBe("duplicate");
    expect(store.items.size).toBe(1);
    expect(store.inbox.get("m1")).toEqual({ processed: true });
    expect(store.items.get("0193a5b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b")).toMatchObject({
      messageId: "m1",
      sourceCreatedAt: new Date("2026-11-23T20:00:00.000Z"),
    });
  });

  it("records a new message id for an existing entity without repeating the effect", async () => {
    const store = new MemoryStore();
    await applyEntityItemCreated(store, event("m1"));
    expect(await applyEntityItemCreated(store, event("m2"))).toBe("already-applied");
    expect(store.items.size).toBe(1);
    expect(store.inbox.has("m2")).toBe(true);
  });

  it("leaves no inbox row when the effect fails, so a redelivery applies it", async () => {
    const store = new MemoryStore();
    store.failNextInsert = true;
    await expect(applyEntityItemCreated(store, event("m1"))).rejects.toThrow("database went away");
    expect(store.inbox.size).toBe(0);
    expect(await applyEntityItemCreated(store, event("m1"))).toBe("applied");
  });
});
