import { describe, expect, it } from "vitest";
import { applyEntityItemCreated } from "./apply-entity-item-created.js";
import { applyEntityItemUpdated, VersionGapError } from "./apply-entity-item-updated.js";
import type { EntityItemCreatedEvent, EntityItemUpdatedEvent } from "./events.js";
import type { InboxStore, InboxUnitOfWork, NewReceivedItem } from "./inbox.js";

/** In-memory store with all-or-nothing transactions, like the database. */
class MemoryStore implements InboxStore {
  inbox = new Map<string, { processed: boolean }>();
  items = new Map<string, NewReceivedItem & { version: number }>();
  /** Versions in the order they were applied, per entity. */
  applied: Array<{ id: string; version: number }> = [];
  failNextInsert = false;

  async inTransaction<T>(work: (uow: InboxUnitOfWork) => Promise<T>): Promise<T> {
    const inbox = new Map(this.inbox);
    const items = new Map(this.items);
    const applied = [...this.applied];
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
        items.set(item.id, { ...item, version: 1 });
        applied.push({ id: item.id, version: 1 });
        return Promise.resolve(true);
      },
      markProcessed: (messageId) => {
        inbox.set(messageId, { processed: true });
        return Promise.resolve();
      },
      lockReceivedItemVersion: (id) => Promise.resolve(items.get(id)?.version),
      applyReceivedItemUpdate: (update) => {
        const item = items.get(update.id);
        if (item === undefined) return Promise.reject(new Error("no such item"));
        items.set(update.id, { ...item, name: update.name, version: update.version });
        applied.push({ id: update.id, version: update.version });
        return Promise.resolve();
      },
    };
    const result = await work(uow);
    this.inbox = inbox;
    this.items = items;
    this.applied = applied;
    return result;
  }
}

const ENTITY = "0193a5b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b";

function update(messageId: string, version: number): EntityItemUpdatedEvent {
  return {
    messageId,
    type: "EntityItemUpdated",
    version: 1,
    aggregateId: ENTITY,
    payload: {
      id: ENTITY,
      name: `v${version}`,
      description: null,
      version,
      updatedAt: "2026-11-23T20:00:01Z",
    },
  };
}

function event(messageId: string, entityId = ENTITY): EntityItemCreatedEvent {
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

describe("applyEntityItemUpdated", () => {
  it("applies versions in order, once each, and skips redeliveries and resends", async () => {
    const store = new MemoryStore();
    await applyEntityItemCreated(store, event("c"));
    expect(await applyEntityItemUpdated(store, update("u2", 2))).toBe("applied");
    expect(await applyEntityItemUpdated(store, update("u2", 2))).toBe("duplicate");
    expect(await applyEntityItemUpdated(store, update("u2-resent", 2))).toBe("already-applied");
    expect(await applyEntityItemUpdated(store, update("u3", 3))).toBe("applied");
    expect(store.items.get(ENTITY)).toMatchObject({ name: "v3", version: 3 });
    expect(store.applied.map((a) => a.version)).toEqual([1, 2, 3]);
  });

  it("refuses (transiently) a version that arrives before its predecessor, and leaves no trace", async () => {
    const store = new MemoryStore();
    await expect(applyEntityItemUpdated(store, update("u2", 2))).rejects.toBeInstanceOf(VersionGapError);
    await applyEntityItemCreated(store, event("c"));
    await expect(applyEntityItemUpdated(store, update("u3", 3))).rejects.toThrow(/^version gap/);
    expect(store.inbox.has("u3")).toBe(false);
    expect(await applyEntityItemUpdated(store, update("u2", 2))).toBe("applied");
    expect(await applyEntityItemUpdated(store, update("u3", 3))).toBe("applied");
    expect(store.applied.map((a) => a.version)).toEqual([1, 2, 3]);
  });
});
