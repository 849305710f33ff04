import { describe, expect, it } from "vitest";
import type { KafkaOffsetsSnapshot } from "../../../kafka/admin.js";
import type { ResourceSnapshot } from "../../../runtime/distributed-application.js";
import { KafkaBrokers, bootstrapOf } from "./kafka-brokers.js";

function kafka(name: string, state: ResourceSnapshot["state"], port = 9092): ResourceSnapshot {
  return {
    name,
    kind: "kafka",
    state,
    health: state === "Running" ? "Healthy" : "Unknown",
    pid: 1,
    endpoints: { kafka: `kafka://127.0.0.1:${port}` },
    logFile: "/dev/null",
    dependsOn: [],
  };
}

const snapshot: KafkaOffsetsSnapshot = {
  topics: [{ name: "orders", partitions: [{ partition: 0, start: "0", end: "2" }] }],
  groups: [],
};

describe("KafkaBrokers", () => {
  it("reads only the Running Kafka resources, at their bootstrap address", async () => {
    const asked: string[] = [];
    const other: ResourceSnapshot = { ...kafka("pg", "Running"), kind: "postgres", endpoints: {} };
    const brokers = new KafkaBrokers({
      resources: () => [other, kafka("events", "Running", 1234), kafka("old", "Exited", 5678)],
      read: (bootstrap) => {
        asked.push(bootstrap);
        return Promise.resolve(snapshot);
      },
    });
    const [events, old, ...rest] = await brokers.views();
    expect(asked).toEqual(["127.0.0.1:1234"]);
    expect(rest).toEqual([]);
    expect(events).toMatchObject({
      resource: "events",
      state: "Running",
      bootstrap: "127.0.0.1:1234",
      topics: [{ name: "orders", records: 2 }],
      groups: [],
      deadLetterTopics: [],
    });
    expect(Date.parse(events?.time ?? "")).not.toBeNaN();
    expect(events?.error).toBeUndefined();
    expect(old).toEqual({
      resource: "old",
      state: "Exited",
      topics: [],
      groups: [],
      deadLetterTopics: [],
      error: "old is not running",
    });
  });

  it("reports a broker that does not answer, without figures", async () => {
    const brokers = new KafkaBrokers({
      resources: () => [kafka("events", "Running")],
      read: () => Promise.reject(new Error("Connection timeout")),
    });
    expect(await brokers.views()).toEqual([
      {
        resource: "events",
        state: "Running",
        bootstrap: "127.0.0.1:9092",
        topics: [],
        groups: [],
        deadLetterTopics: [],
        error: "the broker did not answer: Connection timeout",
      },
    ]);
  });

  it("shares one reading between requests that overlap, and reads afresh after it", async () => {
    let reads = 0;
    let release: () => void = () => {};
    const brokers = new KafkaBrokers({
      resources: () => [kafka("events", "Running")],
      read: () => {
        reads++;
        return new Promise((resolve) => (release = () => resolve(snapshot)));
      },
    });
    const first = brokers.views();
    const second = brokers.views();
    release();
    expect(await first).toEqual(await second);
    expect(reads).toBe(1);
    const third = brokers.views();
    release();
    await third;
    expect(reads).toBe(2);
  });

  it("takes the bootstrap address from the kafka:// endpoint only", () => {
    expect(bootstrapOf(kafka("events", "Running", 4242))).toBe("127.0.0.1:4242");
    expect(bootstrapOf({ ...kafka("events", "Running"), endpoints: { http: "http://x" } })).toBeUndefined();
  });
});
