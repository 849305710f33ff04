import { describe, expect, it } from "vitest";
import { kafkaGroupId, kafkaGroupTopics, parseBrokers } from "./names.js";

describe("Kafka names", () => {
  it("names the group id and the group's topics as the spec does", () => {
    expect(kafkaGroupId("entity-items", "receiver")).toBe("entity-items.receiver");
    expect(kafkaGroupTopics("entity-items", "receiver", 2)).toEqual({
      retry: ["entity-items.receiver.retry-1", "entity-items.receiver.retry-2"],
      deadLetter: "entity-items.receiver.dlt",
      marks: "entity-items.receiver.dlt-marks",
    });
    expect(() => kafkaGroupId("s", " ")).toThrow(/group \(source s\) must not be empty/);
    expect(() => kafkaGroupTopics("s", "g", -1)).toThrow(/tiers must be an integer/);
  });

  it("reads bootstrap servers from a connection string or a list", () => {
    expect(parseBrokers("127.0.0.1:9092, kafka:9093")).toEqual(["127.0.0.1:9092", "kafka:9093"]);
    expect(parseBrokers(["a:1"])).toEqual(["a:1"]);
    expect(() => parseBrokers("")).toThrow(/at least one/);
    expect(() => parseBrokers("kafka")).toThrow(/invalid Kafka broker address "kafka"/);
  });
});
