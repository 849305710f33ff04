import { describe, expect, it } from "vitest";
import type { KafkaOffsetsSnapshot } from "../../../kafka/admin.js";
import { kafkaOverview, parseOffset, partitionLag, topicRole } from "./kafka-overview.js";

describe("partitionLag", () => {
  it("counts from the committed offset to the end", () => {
    expect(partitionLag(7, 0, 10)).toBe(3);
    expect(partitionLag(10, 0, 10)).toBe(0);
  });

  it("counts from the log start before the first commit", () => {
    expect(partitionLag(null, 0, 10)).toBe(10);
    expect(partitionLag(null, 4, 10)).toBe(6);
    expect(partitionLag(null, 0, 0)).toBe(0);
  });

  it("counts from the log start when retention deleted records past the commit", () => {
    // Kafka's own tool would say 8; only 3 records are left to read.
    expect(partitionLag(2, 7, 10)).toBe(3);
  });

  it("is never negative (a commit past the end of a re-created topic)", () => {
    expect(partitionLag(50, 0, 10)).toBe(0);
  });
});

describe("parseOffset", () => {
  it("reads the admin API's decimal strings, -1 included", () => {
    expect(parseOffset("0", "x")).toBe(0);
    expect(parseOffset("123456789012", "x")).toBe(123456789012);
    expect(parseOffset("-1", "x")).toBe(-1);
  });

  it("refuses what is not an offset, naming it", () => {
    expect(() => parseOffset("", "the end of t[0]")).toThrow('offset "" for the end of t[0]');
    expect(() => parseOffset("1.5", "x")).toThrow(/1\.5/);
    expect(() => parseOffset("-2", "x")).toThrow(/-2/);
    expect(() => parseOffset("99999999999999999999", "x")).toThrow(/99999999999999999999/);
  });
});

describe("topicRole", () => {
  const topics = new Set([
    "entity-items",
    "entity-items.receiver.retry-1",
    "entity-items.receiver.dlt",
    "entity-items.receiver.dlt-marks",
    "a.b",
    "a.b.g.h.dlt",
  ]);

  it("names the transport's topics by their suffix, with the source and group they serve", () => {
    expect(topicRole("entity-items", topics)).toEqual({ role: "events" });
    expect(topicRole("entity-items.receiver.retry-1", topics)).toEqual({
      role: "retry",
      source: "entity-items",
      group: "receiver",
    });
    expect(topicRole("entity-items.receiver.dlt", topics)).toEqual({
      role: "dead-letter",
      source: "entity-items",
      group: "receiver",
    });
    expect(topicRole("entity-items.receiver.dlt-marks", topics)).toEqual({
      role: "dead-letter-marks",
      source: "entity-items",
      group: "receiver",
    });
  });

  it("takes the longest existing topic as the source when names contain dots", () => {
    expect(topicRole("a.b.g.h.dlt", topics)).toEqual({ role: "dead-letter", source: "a.b", group: "g.h" });
    // No such source topic: the part before the last dot.
    expect(topicRole("x.y.z.dlt", topics)).toEqual({ role: "dead-letter", source: "x.y", group: "z" });
  });

  it("leaves a name with nothing before the suffix's group an events topic", () => {
    expect(topicRole("orders.dlt", topics)).toEqual({ role: "events" });
    expect(topicRole("retry-1", topics)).toEqual({ role: "events" });
  });
});

const snapshot: KafkaOffsetsSnapshot = {
  topics: [
    {
      name: "entity-items",
      partitions: [
        { partition: 0, start: "0", end: "10" },
        { partition: 1, start: "2", end: "5" },
        { partition: 2, start: "0", end: "0" },
      ],
    },
    { name: "entity-items.receiver.dlt", partitions: [{ partition: 0, start: "0", end: "4" }] },
    { name: "entity-items.receiver.dlt-marks", partitions: [{ partition: 0, start: "0", end: "1" }] },
  ],
  groups: [
    {
      groupId: "entity-items.receiver",
      state: "Stable",
      members: 1,
      assignedTopics: ["entity-items"],
      // Committed on partition 0 only; partition 1 never.
      committed: [
        {
          topic: "entity-items",
          partitions: [
            { partition: 0, offset: "7" },
            { partition: 1, offset: "-1" },
          ],
        },
      ],
    },
    { groupId: "idle", state: "Empty", members: 0, assignedTopics: ["gone"], committed: [] },
  ],
};

describe("kafkaOverview", () => {
  it("gives every partition's offsets and records, and each topic's total", () => {
    const { topics } = kafkaOverview(snapshot);
    expect(topics[0]).toEqual({
      name: "entity-items",
      role: "events",
      partitions: [
        { partition: 0, startOffset: 0, endOffset: 10, records: 10 },
        { partition: 1, startOffset: 2, endOffset: 5, records: 3 },
        { partition: 2, startOffset: 0, endOffset: 0, records: 0 },
      ],
      records: 13,
    });
  });

  it("gives a group's committed offsets and lag per partition, per topic and in total", () => {
    const [receiver, idle] = kafkaOverview(snapshot).groups;
    expect(receiver).toEqual({
      groupId: "entity-items.receiver",
      state: "Stable",
      members: 1,
      topics: [
        {
          topic: "entity-items",
          partitions: [
            { partition: 0, committedOffset: 7, endOffset: 10, lag: 3 },
            { partition: 1, committedOffset: null, endOffset: 5, lag: 3 },
            { partition: 2, committedOffset: null, endOffset: 0, lag: 0 },
          ],
          lag: 6,
        },
      ],
      lag: 6,
    });
    // A topic that no longer exists is left out, not shown with made-up offsets.
    expect(idle).toEqual({ groupId: "idle", state: "Empty", members: 0, topics: [], lag: 0 });
  });

  it("lists the dead-letter topics with their source, group and records", () => {
    expect(kafkaOverview(snapshot).deadLetterTopics).toEqual([
      {
        topic: "entity-items.receiver.dlt",
        source: "entity-items",
        group: "receiver",
        partitions: 1,
        records: 4,
      },
    ]);
  });

  it("refuses offsets that cannot be (a start after the end), naming the partition", () => {
    const bad: KafkaOffsetsSnapshot = {
      topics: [{ name: "t", partitions: [{ partition: 3, start: "9", end: "4" }] }],
      groups: [],
    };
    expect(() => kafkaOverview(bad)).toThrow("start 9 and end 4 for t[3]");
  });
});
