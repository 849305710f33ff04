// The topics of a published Kafka node, created by a shell script the Kafka image runs with its
// own tools (`/opt/kafka/bin/kafka-topics.sh`, in the official image and in the look-alike): a
// one-shot Compose service and a Kubernetes Job run it once the broker answers. Published output
// has no AppHost process to create them, as the runtime does (admin.ts).

import type { KafkaTopicSpec } from "./topics.js";

/** Where the official `apache/kafka` image (and the look-alike) keeps Kafka's command-line tools. */
export const KAFKA_BIN = "/opt/kafka/bin";

/**
 * A topic as published: the model's spec, with the settings a declaration may carry besides its
 * retention (a group's compacted marks topic has `cleanupPolicy: "compact"`).
 */
export type PublishedTopic = KafkaTopicSpec & {
  /** `cleanup.policy`; the broker's default (`delete`) when absent. */
  readonly cleanupPolicy?: "delete" | "compact";
  /** Any other topic settings, as `kafka-topics.sh --config` takes them (they win over the above). */
  readonly config?: Readonly<Record<string, string>>;
};

// Kafka's setting names are dotted lower-case words; values here are numbers, words and lists.
// Nothing else reaches the script, so it needs no quoting (and has no "$" Compose would expand).
const CONFIG_KEY = /^[a-z][a-z0-9]*(\.[a-z0-9]+)*$/;
const CONFIG_VALUE = /^[A-Za-z0-9._,:+-]{1,200}$/;

/**
 * The `--config` pairs of a topic: `retentionMs` as `retention.ms`, `cleanupPolicy` as
 * `cleanup.policy`, then its other settings.
 */
export function topicConfig(broker: string, topic: PublishedTopic): Array<[string, string]> {
  const config = new Map<string, string>();
  if (topic.retentionMs !== undefined) config.set("retention.ms", String(topic.retentionMs));
  if (topic.cleanupPolicy !== undefined) config.set("cleanup.policy", topic.cleanupPolicy);
  for (const [key, value] of Object.entries(topic.config ?? {})) {
    if (!CONFIG_KEY.test(key))
      throw new Error(`Topic "${topic.name}" on "${broker}": invalid setting name "${key}"`);
    if (!CONFIG_VALUE.test(value))
      throw new Error(
        `Topic "${topic.name}" on "${broker}": setting ${key} has a value that cannot be published: "${value}"`,
      );
    config.set(key, value);
  }
  return [...config];
}

export interface TopicsScriptOptions {
  /** The resource's name, for messages. */
  broker: string;
  /** `host:port` of the broker as the script's container reaches it. */
  bootstrap: string;
  topics: readonly PublishedTopic[];
  /** How many times to ask whether the broker answers, 2 s apart, before giving up. */
  attempts: number;
}

/**
 * A POSIX shell script: waits until the broker answers (a Kubernetes Job may start before it),
 * then creates each topic that does not exist with its partitions and settings. An existing topic
 * is left as it is: Kafka can add partitions but never remove them, and its settings are changed
 * with `kafka-configs.sh`, deliberately, not by a redeploy. Exits non-zero on the first failure,
 * so a dependent service never starts without its topics.
 */
export function topicsScript(options: TopicsScriptOptions): string {
  const { broker, bootstrap, topics, attempts } = options;
  if (!Number.isInteger(attempts) || attempts < 1) throw new Error("attempts must be a positive integer");
  if (!/^[A-Za-z0-9.-]+:[0-9]+$/.test(bootstrap)) throw new Error(`Invalid bootstrap address "${bootstrap}"`);
  const lines = [
    "set -eu",
    // The tools' JVMs are short-lived: a small heap, whatever the broker's container sets.
    "export KAFKA_HEAP_OPTS='-Xmx128m -Xms32m'",
    // kafka-run-class.sh creates its log directory (under /opt/kafka by default): a read-only root.
    "export LOG_DIR=/tmp",
    "tries=0",
    `until ${KAFKA_BIN}/kafka-broker-api-versions.sh --bootstrap-server ${bootstrap} > /dev/null 2>&1; do`,
    "  tries=$((tries + 1))",
    `  if [ "$tries" -ge ${attempts} ]; then echo "${broker} (${bootstrap}) does not answer" >&2; exit 1; fi`,
    `  echo "waiting for ${broker} (${bootstrap})"`,
    "  sleep 2",
    "done",
  ];
  for (const topic of topics) {
    const config = topicConfig(broker, topic).map(([key, value]) => ` --config ${key}=${value}`);
    lines.push(
      `${KAFKA_BIN}/kafka-topics.sh --bootstrap-server ${bootstrap} --create --if-not-exists ` +
        `--topic ${topic.name} --partitions ${topic.partitions} --replication-factor 1${config.join("")}`,
    );
  }
  lines.push(`echo "${topics.length} topic(s) of ${broker} in place"`);
  return `${lines.join("\n")}\n`;
}
