import { describe, expect, it } from "vitest";
import { KeyOrderedBatches } from "./key-ordered-batches.js";

interface Item {
  key: string;
  seq: number;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe("KeyOrderedBatches", () => {
  it("cuts full batches at once and runs a key's batches in arrival order", async () => {
    const gates = new Map<number, ReturnType<typeof deferred>>();
    const started: number[][] = [];
    const batches = new KeyOrderedBatches<Item>({
      batchSize: 2,
      lingerMs: 1_000,
      keyOf: (item) => item.key,
      run: async (batch) => {
        started.push(batch.map((i) => i.seq));
        const gate = deferred();
        gates.set(batch[0]!.seq, gate);
        await gate.promise;
      },
    });
    batches.add({ key: "a", seq: 1 });
    batches.add({ key: "a", seq: 2 });
    batches.add({ key: "b", seq: 3 });
    batches.add({ key: "a", seq: 4 });
    // [1,2] runs; [3,4] shares key a: it waits for [1,2].
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([[1, 2]]);
    gates.get(1)!.resolve();
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([
      [1, 2],
      [3, 4],
    ]);
    gates.get(3)!.resolve();
    await Promise.all(batches.pending());
  });

  it("runs batches of different keys in parallel and cuts a partial batch when idle", async () => {
    let running = 0;
    let most = 0;
    const batches = new KeyOrderedBatches<Item>({
      batchSize: 1,
      lingerMs: 5,
      keyOf: (item) => item.key,
      run: async () => {
        running += 1;
        most = Math.max(most, running);
        await new Promise((r) => setTimeout(r, 20));
        running -= 1;
      },
    });
    batches.add({ key: "a", seq: 1 });
    batches.add({ key: "b", seq: 2 });
    await Promise.all(batches.pending());
    expect(most).toBe(2);
  });
});
