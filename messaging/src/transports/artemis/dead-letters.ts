import type { DeadLetterEntry, DeadLetterStore } from "../../transport/transport.js";
import type { DeadLetter, DeadLetterQueue } from "./dead-letter-queue.js";

/** The broker's reason for a dead letter, when it listed one (a rejection's description). */
const REASON_PROPERTIES = ["_AMQ_DLQ_REASON", "x-opt-DLQ-REASON"] as const;

/**
 * The dead letters of one consumer group as the seam's DeadLetterStore, over the group's Artemis
 * dead-letter queue (browse, count, replay, delete through management). Entry ids are the
 * broker's message ids in that queue, as decimal strings.
 */
export class ArtemisDeadLetters implements DeadLetterStore {
  constructor(
    private readonly dlq: DeadLetterQueue,
    /** The source and group whose dead letters these are, and the queue they were consumed from. */
    private readonly origin: { source: string; group: string; queue: string },
    private readonly release: () => void = () => undefined,
  ) {}

  count(): Promise<number> {
    return this.dlq.count();
  }

  async browse(limit: number): Promise<DeadLetterEntry[]> {
    if (!Number.isInteger(limit) || limit < 1)
      throw new Error(`limit must be a positive integer, got ${limit}`);
    return (await this.dlq.browse(limit)).map((letter) => this.toEntry(letter));
  }

  async replay(id: string): Promise<boolean> {
    const brokerId = parseId(id);
    return brokerId === undefined ? false : this.dlq.replay(brokerId);
  }

  replayAll(): Promise<number> {
    return this.dlq.replayAll();
  }

  async remove(id: string): Promise<boolean> {
    const brokerId = parseId(id);
    return brokerId === undefined ? false : this.dlq.remove(brokerId);
  }

  close(): Promise<void> {
    this.release();
    return Promise.resolve();
  }

  private toEntry(letter: DeadLetter): DeadLetterEntry {
    // The listing names the queue it came from; a group's queue maps back to (source, group).
    const fromGroup = letter.originalQueue === undefined || letter.originalQueue === this.origin.queue;
    const reason = REASON_PROPERTIES.map((key) => letter.properties[key]).find((v) => typeof v === "string");
    return {
      id: String(letter.id),
      messageId: letter.messageId,
      type: letter.type,
      version: letter.version,
      key: letter.groupId,
      correlationId: letter.correlationId,
      origin: fromGroup
        ? { destination: this.origin.source, group: this.origin.group }
        : { destination: letter.originalAddress, group: undefined },
      reason: typeof reason === "string" ? reason : undefined,
      properties: letter.properties,
    };
  }
}

/** A broker message id: a non-negative safe integer written in decimal; anything else names no entry. */
function parseId(id: string): number | undefined {
  if (!/^\d{1,16}$/.test(id)) return undefined;
  const value = Number(id);
  return Number.isSafeInteger(value) ? value : undefined;
}
