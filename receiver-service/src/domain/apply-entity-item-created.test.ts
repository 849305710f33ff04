import { describe, expect, it } from "vitest";
import { RetryLaterError } from "@outbox/messaging";
import { entityItemCreatedEffect } from "./apply-entity-item-created.js";
import { entityItemUpdatedEffect, VersionGapError } from "./apply-entity-item-updated.js";
import type { EntityItemCreatedEvent, EntityItemUpdatedEvent } from "./events.js";
import type { NewReceivedItem, ReceivedItemsUnitOfWork } from "./inbox.js";

// The receiver group's effects (the inbox row around them is @outbox/messaging's: its tests prove
// the duplicate skip and the rollback; test/receiver-exactly-once.test.ts the whole).

/** In-memory entity copies, like the tables inside one transaction. */
class MemoryItems implements ReceivedItemsUnitOfWork {
  items = new Map<string, NewReceivedItem & { version: number }>();
  /** Versions in the order they were applied, per entity. */
  applied: Array<{ id: string; version: number }> = [];

  insertReceivedItem(item: NewReceivedItem): Promise<boolean> {
    if (this.items.has(item.id)) return Promise.resolve(false);
    this.items.set(item.id, { ...item, version: 1 });
    this.applied.push({ id: item.id, version: 1 });
    return Promise.resolve(true);
  }

  lockReceivedItemVersion(id: string): Promise<number | undefined> {
    return Promise.resolve(this.items.get(id)?.version);
  }

  applyReceivedItemUpdate(
    update: Parameters<ReceivedItemsUnitOfWork["applyReceivedItemUpdate"]>[0],
  ): Promise<void> {
    const item = this.items.get(update.id);
    if (item === undefined) return Promise.reject(new Error("no such item"));
    this.items.set(update.id, { ...item, name: update.name, version: update.version });
    this.applied.push({ id: update.id, version: update.version });
    return Promise.resolve();
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

describe("entityItemCreatedEffect", () => {
  it("stores the entity copy", async () => {
    const store = new MemoryItems();
    expect(await entityItemCreatedEffect(store, event("m1"))).toBe("applied");
    expect(store.items.get(ENTITY)).toMatchObject({
      messageId: "m1",
      sourceCreatedAt: new Date("2026-11-23T20:00:00.000Z"),
    });
  });

  it("does not repeat the effect for an existing entity under a new message id", async () => {
    const store = new MemoryItems();
    await entityItemCreatedEffect(store, event("m1"));
    expect(await entityItemCreatedEffect(store, event("m2"))).toBe("already-applied");
    expect(store.items.size).toBe(1);
    expect(store.items.get(ENTITY)?.messageId).toBe("m1");
  });
});

describe("entityItemUpdatedEffect", () => {
  it("applies versions in order, once each, and recognises a resend", async () => {
    const store = new MemoryItems();
    await entityItemCreatedEffect(store, event("c"));
    expect(await entityItemUpdatedEffect(store, update("u2", 2))).toBe("applied");
    expect(await entityItemUpdatedEffect(store, update("u2-resent", 2))).toBe("already-applied");
    expect(await entityItemUpdatedEffect(store, update("u3", 3))).toBe("applied");
    expect(store.items.get(ENTITY)).toMatchObject({ name: "v3", version: 3 });
    expect(store.applied.map((a) => a.version)).toEqual([1, 2, 3]);
  });

  it("defers (RetryLaterError) a version that arrives before its predecessor, writing nothing", async () => {
    const store = new MemoryItems();
    await expect(entityItemUpdatedEffect(store, update("u2", 2))).rejects.toBeInstanceOf(VersionGapError);
    await entityItemCreatedEffect(store, event("c"));
    const gap = entityItemUpdatedEffect(store, update("u3", 3));
    await expect(gap).rejects.toThrow(/^version gap/);
    await expect(gap).rejects.toBeInstanceOf(RetryLaterError);
    expect(store.applied.map((a) => a.version)).toEqual([1]);
    expect(await entityItemUpdatedEffect(store, update("u2", 2))).toBe("applied");
    expect(await entityItemUpdatedEffect(store, update("u3", 3))).toBe("applied");
    expect(store.applied.map((a) => a.version)).toEqual([1, 2, 3]);
  });
});
