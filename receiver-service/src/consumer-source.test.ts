import { describe, expect, it } from "vitest";
import { consumerSource } from "./consumer-source.js";

describe("consumerSource", () => {
  it("reads the AppHost's <topic>.<group> queue as the topic and group", () => {
    expect(consumerSource("entity-items.receiver", "receiver")).toEqual({ source: "entity-items" });
    expect(consumerSource("entity-items.audit", "audit")).toEqual({ source: "entity-items" });
  });

  it("reads any other queue as it is, fully qualified", () => {
    expect(consumerSource("orders", "receiver")).toEqual({ source: "orders::orders" });
    expect(consumerSource(".receiver", "receiver")).toEqual({ source: ".receiver::.receiver" });
    expect(consumerSource("a::b", "receiver")).toEqual({ source: "a::b" });
  });
});
