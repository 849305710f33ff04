// The Messaging page's Kafka view, computed from what the broker answers (readKafkaOffsets): each
// topic's partitions with their start and end offsets, each consumer group's committed offsets and
// lag per partition and in total, and the dead-letter topics (`<source>.<group>.dlt`) with the
// records they hold. Pure arithmetic over one snapshot; the route reads the broker.

import type { KafkaOffsetsSnapshot } from "../../../kafka/admin.js";

/** What a topic is for, by the transport's naming (`<s>`, `<s>.<g>.retry-<n>`, `<s>.<g>.dlt`, `<s>.<g>.dlt-marks`). */
export type KafkaTopicRole = "events" | "retry" | "dead-letter" | "dead-letter-marks";

export interface KafkaPartitionView {
  partition: number;
  startOffset: number;
  endOffset: number;
  /** end − start: the records the partition holds (an upper bound on a compacted topic). */
  records: number;
}

export interface KafkaTopicView {
  name: string;
  role: KafkaTopicRole;
  /** For retry, dead-letter and marks topics: the source topic and the consumer group they serve. */
  source?: string;
  group?: string;
  partitions: KafkaPartitionView[];
  records: number;
}

export interface KafkaGroupPartitionView {
  partition: number;
  /** The group's committed offset (the next record it will read); null before its first commit. */
  committedOffset: number | null;
  endOffset: number;
  lag: number;
}

export interface KafkaGroupView {
  groupId: string;
  state: string;
  members: number;
  topics: Array<{ topic: string; partitions: KafkaGroupPartitionView[]; lag: number }>;
  /** The sum over its topics' partitions. */
  lag: number;
}

export interface KafkaDeadLetterTopicView {
  topic: string;
  source: string;
  group: string;
  partitions: number;
  /** Records in the topic, replayed or deleted ones included (the transport marks those in `<topic>-marks`). */
  records: number;
}

/** One Kafka resource of the model: its figures, or why there are none. */
export interface KafkaBrokerView {
  resource: string;
  state: string;
  bootstrap?: string;
  /** When the broker answered (ISO 8601). */
  time?: string;
  topics: KafkaTopicView[];
  groups: KafkaGroupView[];
  deadLetterTopics: KafkaDeadLetterTopicView[];
  error?: string;
}

/**
 * The records a group has yet to read in one partition. Before its first commit a group of the
 * transport starts at the earliest record still held, and a committed offset below the log start
 * (retention deleted records) resumes there too: in both cases the lag counts from the log start,
 * not from a committed offset that points at nothing. Never negative (a commit past the end, left
 * by a topic deleted and created again, reads nothing).
 */
export function partitionLag(committed: number | null, start: number, end: number): number {
  const from = committed === null ? start : Math.max(committed, start);
  return Math.max(0, end - from);
}

/** A Kafka offset as the admin API gives it (an int64 in decimal); -1 means "none". */
export function parseOffset(text: string, what: string): number {
  const value = Number(text);
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(value) || value < -1)
    throw new Error(`the broker answered offset "${text}" for ${what}`);
  return value;
}

const SUFFIXES: ReadonlyArray<[RegExp, KafkaTopicRole]> = [
  [/\.dlt-marks$/, "dead-letter-marks"],
  [/\.dlt$/, "dead-letter"],
  [/\.retry-\d+$/, "retry"],
];

/**
 * The role of `name` and, for a group's own topics, the source and group it serves. Source and group
 * names may contain dots: the source is the longest existing topic the prefix starts with, else the
 * part before the last dot.
 */
export function topicRole(
  name: string,
  topics: ReadonlySet<string>,
): { role: KafkaTopicRole; source?: string; group?: string } {
  for (const [suffix, role] of SUFFIXES) {
    const match = suffix.exec(name);
    if (!match) continue;
    const prefix = name.slice(0, match.index);
    const source =
      [...topics]
        .filter((t) => t !== name && prefix.startsWith(`${t}.`) && prefix.length > t.length + 1)
        .sort((a, b) => b.length - a.length)[0] ??
      (prefix.lastIndexOf(".") > 0 ? prefix.slice(0, prefix.lastIndexOf(".")) : undefined);
    if (source === undefined) continue;
    return { role, source, group: prefix.slice(source.length + 1) };
  }
  return { role: "events" };
}

/** Topics, groups with lag and dead-letter topics from one reading of the broker. */
export function kafkaOverview(
  snapshot: KafkaOffsetsSnapshot,
): Pick<KafkaBrokerView, "topics" | "groups" | "deadLetterTopics"> {
  const names = new Set(snapshot.topics.map((t) => t.name));
  const topics: KafkaTopicView[] = snapshot.topics.map((topic) => {
    const partitions = topic.partitions.map((p) => {
      const where = `${topic.name}[${p.partition}]`;
      const startOffset = parseOffset(p.start, `the start of ${where}`);
      const endOffset = parseOffset(p.end, `the end of ${where}`);
      if (startOffset < 0 || endOffset < startOffset)
        throw new Error(`the broker answered start ${p.start} and end ${p.end} for ${where}`);
      return { partition: p.partition, startOffset, endOffset, records: endOffset - startOffset };
    });
    return {
      name: topic.name,
      ...topicRole(topic.name, names),
      partitions,
      records: partitions.reduce((sum, p) => sum + p.records, 0),
    };
  });
  const byName = new Map(topics.map((t) => [t.name, t]));
  const groups: KafkaGroupView[] = snapshot.groups.map((group) => {
    const committed = new Map(group.committed.map((t) => [t.topic, t.partitions]));
    // The topics it committed to and those its members read now, as far as they exist.
    const read = [...new Set([...committed.keys(), ...group.assignedTopics])]
      .filter((t) => byName.has(t))
      .sort();
    const groupTopics = read.map((name) => {
      const offsets = new Map((committed.get(name) ?? []).map((p) => [p.partition, p.offset]));
      const partitions = (byName.get(name)?.partitions ?? []).map((p) => {
        const text = offsets.get(p.partition);
        const offset =
          text === undefined ? -1 : parseOffset(text, `${group.groupId}'s commit on ${name}[${p.partition}]`);
        const committedOffset = offset < 0 ? null : offset;
        return {
          partition: p.partition,
          committedOffset,
          endOffset: p.endOffset,
          lag: partitionLag(committedOffset, p.startOffset, p.endOffset),
        };
      });
      return { topic: name, partitions, lag: partitions.reduce((sum, p) => sum + p.lag, 0) };
    });
    return {
      groupId: group.groupId,
      state: group.state,
      members: group.members,
      topics: groupTopics,
      lag: groupTopics.reduce((sum, t) => sum + t.lag, 0),
    };
  });
  const deadLetterTopics = topics.flatMap((t) =>
    t.role === "dead-letter" && t.source !== undefined && t.group !== undefined
      ? [
          {
            topic: t.name,
            source: t.source,
            group: t.group,
            partitions: t.partitions.length,
            records: t.records,
          },
        ]
      : [],
  );
  return { topics, groups, deadLetterTopics };
}
