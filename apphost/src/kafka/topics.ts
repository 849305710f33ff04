/** A topic the AppHost creates on a Kafka broker when the broker starts. */
export interface KafkaTopicSpec {
  readonly name: string;
  /** At least 1. Kafka can add partitions to a topic later, never remove them. */
  readonly partitions: number;
  /** `retention.ms`: how long records are kept (-1: forever); the broker's default (7 days) when absent. */
  readonly retentionMs?: number;
}

/** Kafka's own rule for topic names: 1–249 of `[a-zA-Z0-9._-]`, not "." or "..". */
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/** Checks one topic declaration and returns it, normalised; bad input gets a message naming it. */
export function checkedTopic(
  broker: string,
  name: string,
  options: { partitions?: number; retentionMs?: number },
): KafkaTopicSpec {
  if (!TOPIC_NAME.test(name) || name === "." || name === "..")
    throw new Error(
      `Invalid Kafka topic name "${name}" on "${broker}": use 1–249 letters, digits, '.', '_' or '-' (not "." or "..")`,
    );
  const partitions = options.partitions ?? 1;
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 10_000)
    throw new Error(`Topic "${name}" on "${broker}": partitions must be an integer from 1 to 10000`);
  const { retentionMs } = options;
  if (retentionMs !== undefined && (!Number.isSafeInteger(retentionMs) || retentionMs < -1))
    throw new Error(
      `Topic "${name}" on "${broker}": retentionMs must be an integer ≥ -1 (-1 keeps records forever)`,
    );
  return retentionMs === undefined ? { name, partitions } : { name, partitions, retentionMs };
}
