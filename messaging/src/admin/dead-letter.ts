// A dead-letter queue as the admin routes see it: what one letter carries, how many a browse
// lists at most, and the operations the routes call (service-defaults' Artemis DeadLetterQueue
// has exactly these).

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

/** What the dead-letter routes ask of one dead-letter queue. */
export interface DeadLetterOperations {
  /** The queue's name, shown in the responses. */
  readonly queue: string;
  count(): Promise<number>;
  /** Oldest first, at most `limit` (≤ MAX_BROWSE). */
  browse(limit: number): Promise<DeadLetter[]>;
  /** Back to the queue it was dead-lettered from; false when there is no such message. */
  replay(id: number): Promise<boolean>;
  replayAll(): Promise<number>;
  /** False when there is no such message. */
  remove(id: number): Promise<boolean>;
}
