/**
 * Cuts items into batches and runs them with per-key order, as BatchConsumer does for Artemis (the
 * same rules, without rhea): a batch is cut when it holds `batchSize` items, at once when no other
 * batch runs (no added latency at low load), else after `lingerMs`; batches sharing a key run one
 * after another in arrival order, others in parallel.
 *
 * Batches form per lane (Kafka: per partition). A fetch hands over many records at once; one
 * batch mixing every partition's keys would share a key with the next one nearly always and
 * serialise all work, while a key lives in one partition only, so batches of different lanes
 * never wait for each other.
 */
export interface KeyOrderedBatchesOptions<T> {
  batchSize: number;
  lingerMs: number;
  keyOf: (item: T) => string | undefined;
  /** Where a batch forms; items of one lane only are batched together. Default: one lane. */
  laneOf?: (item: T) => string;
  run: (batch: T[]) => Promise<void>;
}

interface Lane<T> {
  items: T[];
  cancelCut: (() => void) | undefined;
}

export class KeyOrderedBatches<T> {
  private readonly lanes = new Map<string, Lane<T>>();
  private readonly keyTails = new Map<string, Promise<void>>();
  private readonly running = new Set<Promise<void>>();
  private startedBatches = 0;

  constructor(private readonly opts: KeyOrderedBatchesOptions<T>) {
    if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) {
      throw new Error(`batchSize must be a positive integer, got ${opts.batchSize}`);
    }
  }

  add(item: T): void {
    const name = this.opts.laneOf?.(item) ?? "";
    let lane = this.lanes.get(name);
    if (lane === undefined) {
      lane = { items: [], cancelCut: undefined };
      this.lanes.set(name, lane);
    }
    lane.items.push(item);
    if (lane.items.length >= this.opts.batchSize) {
      this.cutLane(name);
      return;
    }
    if (lane.cancelCut !== undefined) return;
    if (this.startedBatches === 0) {
      const immediate = setImmediate(() => this.cutLane(name));
      lane.cancelCut = () => clearImmediate(immediate);
    } else {
      const timer = setTimeout(() => this.cutLane(name), this.opts.lingerMs);
      lane.cancelCut = () => clearTimeout(timer);
    }
  }

  /** Starts every forming batch now (stop: what was taken is handled like the rest). */
  cut(): void {
    for (const name of [...this.lanes.keys()]) this.cutLane(name);
  }

  private cutLane(name: string): void {
    const lane = this.lanes.get(name);
    if (lane === undefined) return;
    lane.cancelCut?.();
    this.lanes.delete(name);
    const batch = lane.items;
    if (batch.length === 0) return;
    const keys = new Set<string>();
    for (const item of batch) {
      const key = this.opts.keyOf(item);
      if (key !== undefined) keys.add(key);
    }
    const previous = [...keys].flatMap((key) => {
      const tail = this.keyTails.get(key);
      return tail === undefined ? [] : [tail];
    });
    const run = async (): Promise<void> => {
      this.startedBatches += 1;
      try {
        await this.opts.run(batch);
      } finally {
        this.startedBatches -= 1;
      }
    };
    const handler: Promise<void> = (previous.length === 0 ? run() : Promise.allSettled(previous).then(run))
      .catch(() => undefined)
      .finally(() => {
        this.running.delete(handler);
        for (const key of keys) if (this.keyTails.get(key) === handler) this.keyTails.delete(key);
      });
    for (const key of keys) this.keyTails.set(key, handler);
    this.running.add(handler);
  }

  /** Batches queued or running. */
  pending(): Promise<void>[] {
    return [...this.running];
  }
}
