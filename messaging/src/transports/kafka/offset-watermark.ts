/**
 * The offsets of one partition taken into hand and not committed yet. Records may be settled out
 * of order (different keys run in parallel); what may be committed is the contiguous watermark:
 * everything below the first offset not done yet. Offsets need not be contiguous (compaction,
 * transaction markers leave gaps): only the offsets taken count.
 */
export class OffsetWatermark {
  /** Taken and not committed, in offset order (records arrive in offset order per partition). */
  private readonly taken: Array<{ offset: bigint; done: boolean }> = [];
  private highestTaken: bigint | undefined;
  private committed: bigint | undefined;

  /** False when the offset was taken already (a refetch after a rebalance): skip the record. */
  take(offset: bigint): boolean {
    if (this.highestTaken !== undefined && offset <= this.highestTaken) return false;
    if (this.committed !== undefined && offset < this.committed) return false;
    this.taken.push({ offset, done: false });
    this.highestTaken = offset;
    return true;
  }

  /** Marks a taken offset done; false when it is not in hand (dropped by a rebalance, or done). */
  done(offset: bigint): boolean {
    const entry = this.taken.find((e) => e.offset === offset);
    if (entry === undefined || entry.done) return false;
    entry.done = true;
    return true;
  }

  /**
   * The offset to commit (the next one to read) when it moved since the last commit, and forgets
   * what it covers; undefined when there is nothing new to commit.
   */
  advance(): bigint | undefined {
    let next: bigint | undefined;
    while (this.taken.length > 0 && this.taken[0]!.done) next = this.taken.shift()!.offset + 1n;
    if (next === undefined) return undefined;
    this.committed = next;
    return next;
  }

  /** Offsets taken and not done. */
  pending(): number {
    return this.taken.filter((e) => !e.done).length;
  }
}
