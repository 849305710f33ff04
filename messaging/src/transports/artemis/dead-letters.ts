import type { DeadLetterEntry, DeadLetterStore } from "../../transport/transport.js";
import type { DeadLetter, DeadLetterQueue } from "./dead-letter-queue.js";

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

  /** Nothing of its own to close: the management links are the transport's, closed with it. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  private toEntry(letter: DeadLetter): DeadLetterEntry {
    // The listing names the queue it came from; a group's queue maps back to (source, group).
    const fromGroup = letter.originalQueue === undefined || letter.originalQueue === this.origin.queue;
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
      // Artemis keeps no reason with a rejected AMQP delivery (its listing has none: checked on
      // 2.56); the consumer's own failure records hold it.
      reason: undefined,
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
