/** A topic the AppHost creates on a Kafka broker when the broker starts. */
export interface KafkaTopicSpec {
  readonly name: string;
  /** At least 1. Kafka can add partitions to a topic later, never remove them. */
  readonly partitions: number;
  /** `retention.ms`: how long records are kept (-1: forever); the broker's default (7 days) when absent. */
  readonly retentionMs?: number;
  /** `cleanup.policy`: `compact` keeps the latest record per key; the broker's default (`delete`) when absent. */
  readonly cleanupPolicy?: KafkaCleanupPolicy;
}

export type KafkaCleanupPolicy = "delete" | "compact";

/** A consumer group of a topic declared in the model: what its retry tiers wait before each retry. */
export interface KafkaGroupDeclaration {
  /** The group's name; its Kafka group.id is `<topic>.<group>`. */
  readonly name: string;
  /** Delay before each retry tier; its length is the number of tiers (default 5 s, 10 s; [] for none). */
  readonly retryDelaysMs?: readonly number[];
}

/** Seed 004: 3 attempts, 5 s base, growing: attempt 1 on the topic, 2 on retry-1, 3 on retry-2. */
export const DEFAULT_RETRY_DELAYS_MS: readonly number[] = [5_000, 10_000];

// The names below are the ones @outbox/messaging's Kafka transport uses (docs/transport-mapping.md);
// the AppHost keeps its own copy, since its core knows nothing of the messaging library.

/** A group's Kafka group.id on a topic (the same string as the group's Artemis queue). */
export function kafkaGroupId(topic: string, group: string): string {
  return `${topic}.${group}`;
}

/** Retry tier `tier` (1-based) of a group on a topic. */
export function kafkaRetryTopic(topic: string, group: string, tier: number): string {
  return `${kafkaGroupId(topic, group)}.retry-${tier}`;
}

/** The group's dead-letter topic. */
export function kafkaDeadLetterTopic(topic: string, group: string): string {
  return `${kafkaGroupId(topic, group)}.dlt`;
}

/** The compacted topic that records which dead letters were replayed or removed. */
export function kafkaDeadLetterMarksTopic(topic: string, group: string): string {
  return `${kafkaGroupId(topic, group)}.dlt-marks`;
}

/** Kafka's own rule for topic names: 1–249 of `[a-zA-Z0-9._-]`, not "." or "..". */
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/** Kafka's rule again, for the part a group adds to a topic name. */
const GROUP_NAME = /^[a-zA-Z0-9_-]+$/;

/** Checks one topic declaration and returns it, normalised; bad input gets a message naming it. */
export function checkedTopic(
  broker: string,
  name: string,
  options: { partitions?: number; retentionMs?: number; cleanupPolicy?: KafkaCleanupPolicy },
): KafkaTopicSpec {
  if (!TOPIC_NAME.test(name) || name === "." || name === "..")
    throw new Error(
      `Invalid Kafka topic name "${name}" on "${broker}": use 1–249 letters, digits, '.', '_' or '-' (not "." or "..")`,
    );
  const partitions = options.partitions ?? 1;
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 10_000)
    throw new Error(`Topic "${name}" on "${broker}": partitions must be an integer from 1 to 10000`);
  const { retentionMs, cleanupPolicy } = options;
  if (retentionMs !== undefined && (!Number.isSafeInteger(retentionMs) || retentionMs < -1))
    throw new Error(
      `Topic "${name}" on "${broker}": retentionMs must be an integer ≥ -1 (-1 keeps records forever)`,
    );
  if (cleanupPolicy !== undefined && cleanupPolicy !== "delete" && cleanupPolicy !== "compact")
    throw new Error(`Topic "${name}" on "${broker}": cleanupPolicy must be "delete" or "compact"`);
  return {
    name,
    partitions,
    ...(retentionMs === undefined ? {} : { retentionMs }),
    ...(cleanupPolicy === undefined ? {} : { cleanupPolicy }),
  };
}

/**
 * The topics a consumer group of `topic` needs besides the topic itself: one retry tier per delay
 * (as many partitions as the topic, so a key keeps its partition's order there too, and the
 * topic's retention), the dead-letter topic (kept forever: a dead letter waits for an operator)
 * and the compacted marks topic (one partition: the marks are few and read whole).
 */
export function groupTopics(
  broker: string,
  topic: KafkaTopicSpec,
  group: KafkaGroupDeclaration,
): KafkaTopicSpec[] {
  if (!GROUP_NAME.test(group.name))
    throw new Error(
      `Invalid consumer group "${group.name}" of topic "${topic.name}" on "${broker}": use letters, digits, '_' or '-'`,
    );
  const delays = group.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  delays.forEach((delay, i) => {
    if (!Number.isSafeInteger(delay) || delay < 0)
      throw new Error(
        `Group "${group.name}" of topic "${topic.name}" on "${broker}": retryDelaysMs[${i}] must be an integer ≥ 0 (got ${String(delay)})`,
      );
  });
  const retention = topic.retentionMs === undefined ? {} : { retentionMs: topic.retentionMs };
  return [
    ...delays.map((_, i) =>
      checkedTopic(broker, kafkaRetryTopic(topic.name, group.name, i + 1), {
        partitions: topic.partitions,
        ...retention,
      }),
    ),
    checkedTopic(broker, kafkaDeadLetterTopic(topic.name, group.name), {
      partitions: topic.partitions,
      retentionMs: -1,
    }),
    checkedTopic(broker, kafkaDeadLetterMarksTopic(topic.name, group.name), {
      partitions: 1,
      cleanupPolicy: "compact",
    }),
  ];
}
