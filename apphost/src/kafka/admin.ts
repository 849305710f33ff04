// What the AppHost asks a running Kafka broker, through kafkajs' admin client: is it serving
// metadata (health), and are the model's topics there (created at start). kafkajs is pure
// JavaScript with no dependencies and speaks the admin protocol Kafka 4 serves.

import kafkajs, { type Admin } from "kafkajs";
import type { KafkaTopicSpec } from "./topics.js";

// kafkajs is CommonJS whose exports Node's ESM loader cannot list: only its default import works
// under plain Node (the CLI), whatever a bundler or test runner would accept.
const { ConfigResourceTypes, Kafka, logLevel } = kafkajs;

export interface AdminTimeouts {
  connectionTimeoutMs: number;
  requestTimeoutMs: number;
}

const HEALTH_TIMEOUTS: AdminTimeouts = { connectionTimeoutMs: 1_000, requestTimeoutMs: 2_000 };
const SETUP_TIMEOUTS: AdminTimeouts = { connectionTimeoutMs: 5_000, requestTimeoutMs: 30_000 };

/** Runs `work` with a connected admin client of `bootstrap` (`host:port`), and always disconnects. */
export async function withKafkaAdmin<T>(
  bootstrap: string,
  work: (admin: Admin) => Promise<T>,
  timeouts: AdminTimeouts = SETUP_TIMEOUTS,
): Promise<T> {
  const admin = new Kafka({
    clientId: "outbox-apphost",
    brokers: [bootstrap],
    connectionTimeout: timeouts.connectionTimeoutMs,
    requestTimeout: timeouts.requestTimeoutMs,
    // The caller decides what a failure means: no retries behind its back, no log chatter.
    retry: { retries: 0 },
    logLevel: logLevel.NOTHING,
  }).admin();
  try {
    await admin.connect();
    return await work(admin);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * Health from the broker itself: a metadata request (DescribeCluster's answer) that names a
 * controller and this broker. An open port alone would also pass for a broker still recovering.
 */
export async function brokerHealth(bootstrap: string): Promise<{ healthy: boolean; detail?: string }> {
  try {
    const cluster = await withKafkaAdmin(bootstrap, (admin) => admin.describeCluster(), HEALTH_TIMEOUTS);
    if (cluster.brokers.length === 0) return { healthy: false, detail: "metadata names no broker" };
    if (cluster.controller === null || cluster.controller < 0)
      return { healthy: false, detail: "no active controller" };
    return { healthy: true };
  } catch (error) {
    return { healthy: false, detail: `metadata request failed: ${(error as Error).message}` };
  }
}

/**
 * Creates the model's topics that do not exist, adds partitions to those that have fewer than
 * declared and sets a declared `retention.ms` or `cleanup.policy` that differs. Safe to repeat: a second run changes
 * nothing. A topic with more partitions than declared fails (Kafka cannot remove partitions).
 */
export async function ensureTopics(
  bootstrap: string,
  topics: readonly KafkaTopicSpec[],
  log: (message: string) => void,
): Promise<void> {
  if (topics.length === 0) return;
  await withKafkaAdmin(bootstrap, async (admin) => {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t.name));
    if (missing.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((t) => ({
          topic: t.name,
          numPartitions: t.partitions,
          replicationFactor: 1,
          configEntries: declaredConfig(t),
        })),
      });
      log(`created topics ${missing.map((t) => `${t.name} (${t.partitions} partitions)`).join(", ")}`);
    }
    const present = topics.filter((t) => existing.has(t.name));
    if (present.length === 0) return;
    const metadata = await admin.fetchTopicMetadata({ topics: present.map((t) => t.name) });
    for (const topic of present) {
      const have = metadata.topics.find((m) => m.name === topic.name)?.partitions.length ?? 0;
      if (have > topic.partitions)
        throw new Error(
          `Topic "${topic.name}" has ${have} partitions but the model declares ${topic.partitions}; ` +
            `Kafka cannot remove partitions (delete the topic, or start with --fresh)`,
        );
      if (have < topic.partitions) {
        await admin.createPartitions({ topicPartitions: [{ topic: topic.name, count: topic.partitions }] });
        log(`topic ${topic.name}: ${have} → ${topic.partitions} partitions`);
      }
    }
    const configured = present.filter((t) => declaredConfig(t).length > 0);
    if (configured.length === 0) return;
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: configured.map((t) => ({
        type: ConfigResourceTypes.TOPIC,
        name: t.name,
        configNames: declaredConfig(t).map((e) => e.name),
      })),
    });
    for (const topic of configured) {
      const entries = declaredConfig(topic);
      const current = described.resources.find((r) => r.resourceName === topic.name)?.configEntries ?? [];
      const valueOf = (name: string) => current.find((e) => e.configName === name)?.configValue;
      const changed = entries.filter((e) => valueOf(e.name) !== e.value);
      if (changed.length === 0) continue;
      // AlterConfigs sets the topic's whole dynamic configuration: the AppHost owns these topics, and
      // sends every declared entry so that changing one does not drop another.
      await admin.alterConfigs({
        validateOnly: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: topic.name, configEntries: entries }],
      });
      for (const e of changed)
        log(`topic ${topic.name}: ${e.name} ${valueOf(e.name) ?? "default"} → ${e.value}`);
    }
  });
}

/** The topic configuration the model declares (retention.ms, cleanup.policy), as config entries. */
function declaredConfig(topic: KafkaTopicSpec): Array<{ name: string; value: string }> {
  return [
    ...(topic.retentionMs === undefined ? [] : [{ name: "retention.ms", value: String(topic.retentionMs) }]),
    ...(topic.cleanupPolicy === undefined ? [] : [{ name: "cleanup.policy", value: topic.cleanupPolicy }]),
  ];
}
