/**
 * How the seam's names map onto Kafka, in one place (the AppHost's model keeps its own copy of the
 * same rule): the group's group.id is `<source>.<group>` (the same string as the Artemis group
 * queue), each retry tier is a topic of its own read by a group id of its own, and the dead
 * letters and their marks are topics per group.
 */

export interface KafkaGroupTopics {
  /** Retry tier n (1-based) is `retry[n - 1]`. */
  retry: string[];
  deadLetter: string;
  /** Compacted: which dead letters were replayed or removed. */
  marks: string;
}

function checkedName(what: string, value: string): string {
  if (value.trim() === "") throw new Error(`${what} must not be empty`);
  return value;
}

/** The Kafka group.id of consumer group `group` on topic `source`. */
export function kafkaGroupId(source: string, group: string): string {
  return `${checkedName("source", source)}.${checkedName(`group (source ${source})`, group)}`;
}

/** Every topic a group needs besides the source: its retry tiers, its DLT and its marks topic. */
export function kafkaGroupTopics(source: string, group: string, tiers: number): KafkaGroupTopics {
  if (!Number.isInteger(tiers) || tiers < 0) throw new Error(`tiers must be an integer ≥ 0, got ${tiers}`);
  const base = kafkaGroupId(source, group);
  return {
    retry: Array.from({ length: tiers }, (_, i) => `${base}.retry-${i + 1}`),
    deadLetter: `${base}.dlt`,
    marks: `${base}.dlt-marks`,
  };
}

/** Bootstrap servers from the AppHost's connection string (`host:port[,host:port…]`) or a list. */
export function parseBrokers(brokers: string | readonly string[]): string[] {
  const list = (typeof brokers === "string" ? brokers.split(",") : [...brokers])
    .map((b) => b.trim())
    .filter((b) => b !== "");
  if (list.length === 0) throw new Error("brokers must name at least one host:port");
  for (const broker of list) {
    if (!/^[^\s:]+:\d{1,5}$/.test(broker) && !/^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(broker)) {
      throw new Error(`invalid Kafka broker address "${broker}" (expected host:port)`);
    }
  }
  return list;
}
