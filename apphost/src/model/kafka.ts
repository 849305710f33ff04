import { checkedTopic, type KafkaTopicSpec } from "../kafka/topics.js";
import { kafkaKind } from "../kinds/kafka.js";
import { imageReference } from "./image.js";
import { Resource, type ReferenceTarget } from "./resource.js";

export interface KafkaOptions {
  /** Topics created when the broker starts (see withTopic). */
  topics?: Array<{ name: string; partitions?: number; retentionMs?: number }>;
}

/**
 * One Apache Kafka node in KRaft mode (broker and controller) and the topics the AppHost creates
 * on it. A reference injects the bootstrap servers (`host:port`) as `ConnectionStrings__<name>`.
 */
export class KafkaResource extends Resource implements ReferenceTarget {
  private readonly declared: KafkaTopicSpec[] = [];
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
   * to an existing topic too.
   */
  withTopic(name: string, options: { partitions?: number; retentionMs?: number } = {}): this {
    if (this.declared.some((t) => t.name === name))
      throw new Error(`Topic "${name}" is declared twice on Kafka "${this.name}"`);
    this.declared.push(checkedTopic(this.name, name, options));
    return this;
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
