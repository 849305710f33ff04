import {
  checkedTopic,
  DEFAULT_RETRY_DELAYS_MS,
  groupTopics,
  type KafkaGroupDeclaration,
  type KafkaTopicSpec,
} from "../kafka/topics.js";
import { kafkaKind } from "../kinds/kafka.js";
import { imageReference } from "./image.js";
import { Resource, type ReferenceTarget } from "./resource.js";

export interface KafkaTopicOptions {
  /** Default 1. */
  partitions?: number;
  /** `retention.ms` (-1: forever); default the broker's (7 days). The groups' retry tiers get it too. */
  retentionMs?: number;
  /**
   * The consumer groups that read the topic. Each gets its retry tiers `<topic>.<group>.retry-<n>`
   * (one per delay), its dead-letter topic `<topic>.<group>.dlt` (kept forever) and its compacted
   * marks topic `<topic>.<group>.dlt-marks`, the names @outbox/messaging's Kafka transport uses.
   */
  groups?: readonly KafkaGroupDeclaration[];
}

export interface KafkaOptions {
  /** Topics created when the broker starts (see withTopic). */
  topics?: Array<{ name: string } & KafkaTopicOptions>;
}

/**
 * One Apache Kafka node in KRaft mode (broker and controller) and the topics the AppHost creates
 * on it. A reference injects the bootstrap servers (`host:port`) as `ConnectionStrings__<name>`.
 */
export class KafkaResource extends Resource implements ReferenceTarget {
  private readonly declared: KafkaTopicSpec[] = [];
  /** `<topic>.<group>` → the group's retry delays, as declared. */
  private readonly delays = new Map<string, readonly number[]>();
  /** Set by withImage. */
  image: string | undefined;

  constructor(name: string, options: KafkaOptions = {}) {
    super(name, kafkaKind);
    for (const topic of options.topics ?? []) this.withTopic(topic.name, topic);
  }

  get connectionName(): string {
    return this.name;
  }

  /**
   * A topic created at every start unless it exists. An existing topic with fewer partitions gets
   * more; one with more fails the start (Kafka cannot remove partitions). `retentionMs` is applied
   * to an existing topic too. Each of `groups` adds the topics it needs (see KafkaTopicOptions).
   */
  withTopic(name: string, options: KafkaTopicOptions = {}): this {
    const topic = checkedTopic(this.name, name, options);
    const groups = options.groups ?? [];
    const seen = new Set<string>();
    for (const group of groups) {
      if (seen.has(group.name))
        throw new Error(`Group "${group.name}" is declared twice on topic "${name}" of Kafka "${this.name}"`);
      seen.add(group.name);
    }
    const added = [topic, ...groups.flatMap((group) => groupTopics(this.name, topic, group))];
    for (const spec of added) {
      if (this.declared.some((t) => t.name === spec.name))
        throw new Error(`Topic "${spec.name}" is declared twice on Kafka "${this.name}"`);
    }
    this.declared.push(...added);
    for (const group of groups)
      this.delays.set(`${name}.${group.name}`, [...(group.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS)]);
    return this;
  }

  /**
   * The retry delays declared for `group` of `topic`, for the services that read it (their Kafka
   * transport waits these before each tier); a group not declared is an error, not a default.
   */
  retryDelaysMs(topic: string, group: string): readonly number[] {
    const delays = this.delays.get(`${topic}.${group}`);
    if (delays === undefined)
      throw new Error(`Kafka "${this.name}" declares no group "${group}" on topic "${topic}"`);
    return delays;
  }

  topics(): KafkaTopicSpec[] {
    return [...this.declared];
  }

  /** Container mode: the image to run instead of the official one (APPHOST_IMAGE_* variables still win). */
  withImage(image: string, tag?: string): this {
    this.image = imageReference(image, tag);
    return this;
  }
}
