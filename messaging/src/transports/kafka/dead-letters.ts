import type { Consumer } from "@platformatic/kafka";
import { BrokerUnavailableError } from "../../transport/broker-unavailable.js";
import type { DeadLetterEntry, DeadLetterStore } from "../../transport/transport.js";
import { brokerAnswered, describeError } from "./publish-outcome.js";
import type { SerialSender } from "./serial-sender.js";
import { partitionBounds, readPartition } from "./partition-range.js";
import { HEADER, type ReadRecord } from "./record.js";

/** Browsing lists at most this many (as the Artemis listing). */
export const MAX_BROWSE = 200;

export interface KafkaDeadLettersOptions {
  source: string;
  group: string;
  deadLetter: string;
  marks: string;
  /** Where a replay goes: the group's first retry tier (only this group reads it). */
  replayTo: string;
  /** A client that never joins a group: offsets, metadata, fetches. */
  reader: Consumer;
  producer: () => SerialSender;
}

type Mark = "replayed" | "removed";

/**
 * The dead letters of one group: its DLT `<source>.<group>.dlt`, with replays and removals kept
 * as marks in the compacted topic `<source>.<group>.dlt-marks` (Kafka cannot delete one record).
 * Entry ids are `partition:offset` in the DLT.
 */
export class KafkaDeadLetters implements DeadLetterStore {
  constructor(private readonly opts: KafkaDeadLettersOptions) {}

  count(): Promise<number> {
    return this.brokerCall(async () => {
      const [bounds, marks] = await Promise.all([
        partitionBounds(this.opts.reader, this.opts.deadLetter),
        this.marks(),
      ]);
      let count = 0n;
      for (const { partition, start, end } of bounds) {
        count += end - start;
        for (const id of marks.keys()) {
          const parsed = parseId(id);
          if (parsed?.partition === partition && parsed.offset >= start && parsed.offset < end) count -= 1n;
        }
      }
      return Number(count);
    });
  }

  async browse(limit: number): Promise<DeadLetterEntry[]> {
    if (!Number.isInteger(limit) || limit < 1)
      throw new Error(`limit must be a positive integer, got ${limit}`);
    const records = await this.brokerCall(() => this.unmarked(Math.min(limit, MAX_BROWSE)));
    return records.map((record) => this.toEntry(record));
  }

  replay(id: string): Promise<boolean> {
    return this.brokerCall(async () => {
      const record = await this.find(id);
      if (record === undefined) return false;
      await this.replayRecord(record);
      return true;
    });
  }

  replayAll(): Promise<number> {
    return this.brokerCall(async () => {
      const records = await this.unmarked(Number.MAX_SAFE_INTEGER);
      for (const record of records) await this.replayRecord(record);
      return records.length;
    });
  }

  remove(id: string): Promise<boolean> {
    return this.brokerCall(async () => {
      const record = await this.find(id);
      if (record === undefined) return false;
      await this.mark(record, "removed");
      return true;
    });
  }

  /** The clients are the transport's, closed with it. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Back to this group only, due at once, then marked: a crash in between replays it twice (the inbox drops one). */
  private async replayRecord(record: ReadRecord): Promise<void> {
    const headers: Record<string, string> = { ...record.headers, [HEADER.dueAt]: String(Date.now()) };
    delete headers[HEADER.attempt];
    await this.opts.producer().send(this.opts.replayTo, {
      key: record.key,
      value: record.value ?? Buffer.alloc(0),
      headers,
    });
    await this.mark(record, "replayed");
  }

  private async mark(record: ReadRecord, mark: Mark): Promise<void> {
    await this.opts.producer().send(this.opts.marks, {
      key: entryId(record),
      value: Buffer.from(mark, "utf8"),
      headers: {},
    });
  }

  /** The entry, when it exists and carries no mark. */
  private async find(id: string): Promise<ReadRecord | undefined> {
    const parsed = parseId(id);
    if (parsed === undefined) return undefined;
    const marks = await this.marks();
    if (marks.has(id)) return undefined;
    let found: ReadRecord | undefined;
    await readPartition(
      this.opts.reader,
      this.opts.deadLetter,
      parsed.partition,
      parsed.offset,
      parsed.offset + 1n,
      (r) => {
        found = r;
        return false;
      },
    ).catch((error: unknown) => {
      // A partition that does not exist names no entry.
      if (error instanceof Error && /no leader/.test(error.message)) return;
      throw error;
    });
    return found?.offset === parsed.offset ? found : undefined;
  }

  /** Unmarked entries, oldest first (by time written), at most `limit`. */
  private async unmarked(limit: number): Promise<ReadRecord[]> {
    const [bounds, marks] = await Promise.all([
      partitionBounds(this.opts.reader, this.opts.deadLetter),
      this.marks(),
    ]);
    const records: ReadRecord[] = [];
    for (const { partition, start, end } of bounds) {
      let taken = 0;
      await readPartition(this.opts.reader, this.opts.deadLetter, partition, start, end, (record) => {
        if (marks.has(entryId(record))) return true;
        records.push(record);
        taken += 1;
        return taken < limit;
      });
    }
    return records.sort((a, b) => a.timestamp - b.timestamp).slice(0, limit);
  }

  /** Every mark, the latest per entry (the topic is compacted by entry id). */
  private async marks(): Promise<Map<string, Mark>> {
    const marks = new Map<string, Mark>();
    for (const { partition, start, end } of await partitionBounds(this.opts.reader, this.opts.marks)) {
      await readPartition(this.opts.reader, this.opts.marks, partition, start, end, (record) => {
        if (record.key !== undefined)
          marks.set(record.key, record.value?.toString("utf8") === "removed" ? "removed" : "replayed");
        return true;
      });
    }
    return marks;
  }

  private toEntry(record: ReadRecord): DeadLetterEntry {
    const h = record.headers;
    const version = Number(h[HEADER.version]);
    return {
      id: entryId(record),
      messageId: h[HEADER.messageId],
      type: h[HEADER.type],
      version: Number.isSafeInteger(version) ? version : undefined,
      key: record.key,
      correlationId: undefined,
      origin: {
        destination: h[HEADER.originTopic] ?? this.opts.source,
        group: h[HEADER.originGroup] ?? this.opts.group,
      },
      reason: h[HEADER.error],
      properties: { ...h, partition: record.partition, offset: String(record.offset) },
    };
  }

  /** A cluster that does not answer is the broker's unavailability (the admin routes answer 503). */
  private async brokerCall<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (brokerAnswered(error)) throw error;
      throw new BrokerUnavailableError(`Kafka did not answer: ${describeError(error)}`);
    }
  }
}

function entryId(record: ReadRecord): string {
  return `${record.partition}:${record.offset}`;
}

function parseId(id: string): { partition: number; offset: bigint } | undefined {
  const match = /^(\d{1,9}):(\d{1,19})$/.exec(id);
  if (match === null) return undefined;
  return { partition: Number(match[1]), offset: BigInt(match[2]!) };
}
