// The services' dead-letter routes (@outbox/messaging's deadLetterRoutes) take numeric ids, the
// Artemis DLQ's message ids, and their OpenAPI documents say so. A transport's DeadLetterStore names
// an entry by a string (Kafka: `partition:offset`); this adapter maps one to the other, so that the
// routes, their documents and every client stay the same on either transport.
import {
  MAX_BROWSE,
  type DeadLetter,
  type DeadLetterEntry,
  type DeadLetterOperations,
  type DeadLetterStore,
} from "@outbox/messaging";

/** Offsets below 2^40 (a trillion records per partition) and partitions below 2^13 fit a safe integer. */
const OFFSET_BITS = 2 ** 40;
const MAX_PARTITION = 2 ** 13;

/**
 * The numeric id of an entry id: a decimal id as it is (Artemis), `partition:offset` (Kafka) as
 * `partition × 2^40 + offset`. Undefined for anything else or out of range.
 */
export function numericDeadLetterId(id: string): number | undefined {
  if (/^\d{1,16}$/.test(id)) {
    const value = Number(id);
    return Number.isSafeInteger(value) ? value : undefined;
  }
  const match = /^(\d{1,4}):(\d{1,13})$/.exec(id);
  if (match === null) return undefined;
  const partition = Number(match[1]);
  const offset = Number(match[2]);
  if (partition >= MAX_PARTITION || offset >= OFFSET_BITS) return undefined;
  return partition * OFFSET_BITS + offset;
}

/** The inverse of numericDeadLetterId for a store whose ids are `partition:offset`. */
export function partitionOffsetId(id: number): string | undefined {
  if (!Number.isSafeInteger(id) || id < 0) return undefined;
  return `${Math.floor(id / OFFSET_BITS)}:${id % OFFSET_BITS}`;
}

/**
 * A DeadLetterStore whose ids are `partition:offset` (Kafka's dead-letter topics) as the routes'
 * DeadLetterOperations. `queue` is the name the responses show (the dead-letter topic).
 */
export function partitionOffsetDeadLetters(store: DeadLetterStore, queue: string): DeadLetterOperations {
  const toLetter = (entry: DeadLetterEntry): DeadLetter => {
    const id = numericDeadLetterId(entry.id);
    if (id === undefined || !entry.id.includes(":"))
      throw new Error(`dead letter id "${entry.id}" of ${queue} is not partition:offset`);
    const { destination, group } = entry.origin;
    return {
      id,
      messageId: entry.messageId,
      type: entry.type,
      version: entry.version,
      groupId: entry.key,
      correlationId: entry.correlationId,
      originalAddress: destination,
      // The group's "queue" in Artemis' naming: `<destination>.<group>`, which is also its group.id.
      originalQueue: destination !== undefined && group !== undefined ? `${destination}.${group}` : undefined,
      properties:
        entry.reason === undefined ? entry.properties : { ...entry.properties, reason: entry.reason },
    };
  };
  const storeId = (id: number): string | undefined => partitionOffsetId(id);
  return {
    queue,
    count: () => store.count(),
    browse: async (limit) => (await store.browse(Math.min(limit, MAX_BROWSE))).map(toLetter),
    replay: async (id) => {
      const entry = storeId(id);
      return entry === undefined ? false : store.replay(entry);
    },
    replayAll: () => store.replayAll(),
    remove: async (id) => {
      const entry = storeId(id);
      return entry === undefined ? false : store.remove(entry);
    },
  };
}
