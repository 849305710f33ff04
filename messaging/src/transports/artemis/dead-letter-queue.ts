import { ManagementOperationError, type BrokerManagement } from "./management.js";

/** A dead-lettered message as the broker lists it (no body: browsing is for triage). */
export interface DeadLetter {
  /** The broker's id of the message inside the dead-letter queue (what replay and delete take). */
  id: number;
  /** The producer's AMQP message_id (an outbox id; a receipt's is receipt:<group>:<outbox id>). */
  messageId: string | undefined;
  type: string | undefined;
  version: number | undefined;
  /** AMQP group_id: the aggregate id. */
  groupId: string | undefined;
  /** AMQP correlation_id (a delivery receipt's: the outbox id it acknowledges). */
  correlationId: string | undefined;
  originalAddress: string | undefined;
  originalQueue: string | undefined;
  /**
   * Everything the broker listed for the message (headers and application properties; Artemis cuts
   * string values at 256 characters), for what the fields above leave out.
   */
  properties: Readonly<Record<string, unknown>>;
}

/**
 * Most a browse can return. Artemis' `listMessages` stops at the address's
 * management-browse-page-size (200 by default; 210 queued messages list as 200, checked on 2.56),
 * so promising more would silently return fewer. Its paged `browse(page, pageSize)` answers over
 * AMQP management with Java-serialized CompositeData (base64), which a Node client cannot read.
 */
export const MAX_BROWSE = 200;

/**
 * One per-address dead-letter queue, operated through Artemis management:
 * browse and count without consuming; replay = the broker's `retryMessage(s)`, which moves the
 * message back to the queue it was dead-lettered from in one broker transaction (it is removed
 * from the DLQ only together with the re-send, and `_AMQ_DUPL_ID` does not block it: checked on
 * Artemis 2.56); delete = `removeMessage`.
 */
export class DeadLetterQueue {
  private readonly resource: string;

  constructor(
    private readonly management: BrokerManagement,
    readonly queue: string,
  ) {
    this.resource = `queue.${queue}`;
  }

  async count(): Promise<number> {
    return Number(await this.call("countMessages", [], 0));
  }

  /** Oldest first, at most `limit` (≤ MAX_BROWSE); `count()` gives how many there are in all. */
  async browse(limit: number): Promise<DeadLetter[]> {
    const listed = await this.call("listMessages", [""], []);
    if (!Array.isArray(listed)) return [];
    return listed
      .slice(0, Math.min(limit, MAX_BROWSE))
      .map((raw) => toDeadLetter(raw as Record<string, unknown>));
  }

  /** True when the message was in the queue and went back to its original queue. */
  async replay(id: number): Promise<boolean> {
    return (await this.call("retryMessage", [id], false)) === true;
  }

  /** Replays every message in the queue; returns how many. */
  async replayAll(): Promise<number> {
    return Number(await this.call("retryMessages", [], 0));
  }

  /** True when the message was there and is now gone for good. */
  async remove(id: number): Promise<boolean> {
    return (await this.call("removeMessage", [id], false)) === true;
  }

  /**
   * The broker creates a per-address DLQ with the first message it dead-letters: until then the
   * queue does not exist (AMQ229067), which means "empty", not an error.
   */
  private async call(operation: string, args: unknown[], whenMissing: unknown): Promise<unknown> {
    try {
      return await this.management.call(this.resource, operation, args);
    } catch (error) {
      if (error instanceof ManagementOperationError && error.message.includes("AMQ229067"))
        return whenMissing;
      throw error;
    }
  }
}

/** `DLQ.<address>` for a queue given as a plain name or as a fully qualified `address::queue`. */
export function defaultDeadLetterQueue(queue: string): string {
  const address = queue.includes("::") ? queue.slice(0, queue.indexOf("::")) : queue;
  return `DLQ.${address}`;
}

/** Artemis lists the AMQP message id in its JMS form, "ID:<id>" (or "ID:AMQP_STRING:<id>"). */
export function producerMessageId(userId: unknown): string | undefined {
  if (typeof userId !== "string") return undefined;
  return userId.replace(/^ID:(AMQP_STRING:)?/, "");
}

export function toDeadLetter(raw: Record<string, unknown>): DeadLetter {
  const str = (key: string): string | undefined => {
    const value = raw[key];
    return typeof value === "string" ? value : undefined;
  };
  const version = raw["version"];
  return {
    id: Number(raw["messageID"]),
    messageId: producerMessageId(raw["userID"]),
    type: str("subject") ?? str("type"),
    version: typeof version === "number" ? version : undefined,
    groupId: str("groupId"),
    // Artemis (2.56) lists the AMQP correlation_id under this key.
    correlationId: str("correlationId"),
    originalAddress: str("x-opt-ORIG-ADDRESS") ?? str("_AMQ_ORIG_ADDRESS"),
    originalQueue: str("x-opt-ORIG-QUEUE") ?? str("_AMQ_ORIG_QUEUE"),
    properties: raw,
  };
}
