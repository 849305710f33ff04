import { Consumer, stringDeserializer, type Message } from "@platformatic/kafka";
import { v7 as uuidv7 } from "uuid";
import type { WitnessCount } from "./queue-witness.js";

/**
 * The Kafka counterpart of the witness queue (queue-witness.ts): a consumer group of its own that
 * reads the events topic from the start after the run and counts the records per `message-id`
 * header. A record is a copy the producer wrote, whatever the groups' consumers did with it: Kafka
 * keeps every record (retention), so a redelivery to a group (an offset read again after a crash
 * or a rebalance) never shows here, and an id found twice is a second copy on the topic. Read
 * committed: a record of an aborted transaction is no copy.
 */
export const WITNESS_GROUP = "soak-witness";
export const MESSAGE_ID_HEADER = "message-id";
const READ_COMMITTED = 1;

export interface TopicWitnessOptions {
  /** Bootstrap servers `host:port[,…]`. */
  bootstrap: string;
  topic: string;
  timeoutMs?: number;
  /** Stop once no record arrived for this long after the end offsets were reached or passed by. */
  quietMs?: number;
}

/** Records without a `message-id` header are counted under this key (a witness must see them). */
export const NO_MESSAGE_ID = "(no message-id)";

export async function readTopicWitness(opts: TopicWitnessOptions): Promise<WitnessCount> {
  const timeoutMs = opts.timeoutMs ?? 300_000;
  const quietMs = opts.quietMs ?? 3_000;
  const bootstrapBrokers = opts.bootstrap
    .split(",")
    .map((b) => b.trim())
    .filter(Boolean);
  const consumer = new Consumer({
    clientId: `soak-witness-${uuidv7()}`,
    // A group of its own per read, so a second read counts from the start again.
    groupId: `${WITNESS_GROUP}-${uuidv7()}`,
    bootstrapBrokers,
    isolationLevel: READ_COMMITTED,
    deserializers: { headerKey: stringDeserializer, headerValue: stringDeserializer },
  });
  const times = new Map<string, number>();
  let messages = 0;
  try {
    const ends = (await consumer.listOffsets({ topics: [opts.topic], isolationLevel: READ_COMMITTED })).get(
      opts.topic,
    );
    if (!ends || ends.length === 0) throw new Error(`topic witness: topic ${opts.topic} has no partitions`);
    const remaining = new Map(ends.map((end, partition) => [partition, end]));
    for (const [partition, end] of remaining) if (end === 0n) remaining.delete(partition);
    if (remaining.size === 0) return { messages: 0, distinct: 0, copied: [] };
    const stream = await consumer.consume({ topics: [opts.topic], mode: "earliest", maxWaitTime: 200 });
    await new Promise<void>((resolve, reject) => {
      let quiet: NodeJS.Timeout | undefined;
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `topic witness: ${messages} records read in ${timeoutMs} ms, partitions not at their end: ${[
                ...remaining.keys(),
              ].join(", ")}`,
            ),
          ),
        timeoutMs,
      );
      const finish = () => {
        clearTimeout(timer);
        clearTimeout(quiet);
        resolve();
      };
      stream.on("data", (message: Message<Buffer, Buffer, string, string>) => {
        messages += 1;
        const id = message.headers.get(MESSAGE_ID_HEADER) ?? NO_MESSAGE_ID;
        times.set(id, (times.get(id) ?? 0) + 1);
        const end = remaining.get(message.partition);
        if (end !== undefined && message.offset + 1n >= end) remaining.delete(message.partition);
        clearTimeout(quiet);
        if (remaining.size === 0) return finish();
        // The last offsets before an end can be transaction markers, never delivered: once no
        // record came for a while after a partition's last record, that partition is done.
        quiet = setTimeout(finish, quietMs);
      });
      stream.once("error", (error: unknown) => {
        clearTimeout(timer);
        clearTimeout(quiet);
        reject(error instanceof Error ? error : new Error(String(error)));
      });
    });
  } finally {
    await new Promise<void>((resolve, reject) => {
      consumer.close(true, (error) => (error ? reject(error) : resolve()));
    });
  }
  const copied = [...times]
    .filter(([, n]) => n > 1)
    .map(([messageId, n]) => ({ messageId, times: n }))
    .sort((a, b) => a.messageId.localeCompare(b.messageId));
  return { messages, distinct: times.size, copied };
}
