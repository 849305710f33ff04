import { describe, expect, it } from "vitest";
import { renderBrokerProperties } from "../artemis/topology.js";
import { ArtemisResource, subscriptionQueueName } from "./artemis.js";

describe("ArtemisResource.addTopic", () => {
  it("gives every consumer group its own address, queue, settings and a divert from the topic", () => {
    const broker = new ArtemisResource("broker")
      .withDefaultAddressSettings({ deadLetterAddress: "DLQ", autoCreateDeadLetterResources: true })
      .addTopic("events", [{ name: "billing", settings: { maxDeliveryAttempts: 3 } }, "audit"], {
        redeliveryDelayMs: 500,
      });
    const topology = broker.topology();
    expect(topology.addresses).toEqual([
      { name: "events", routingType: "multicast", queues: [] },
      {
        name: "events.billing",
        routingType: "anycast",
        queues: [{ name: "events.billing", durable: true }],
        settings: { redeliveryDelayMs: 500, maxDeliveryAttempts: 3 },
      },
      {
        name: "events.audit",
        routingType: "anycast",
        queues: [{ name: "events.audit", durable: true }],
        settings: { redeliveryDelayMs: 500 },
      },
    ]);
    expect(topology.diverts).toEqual([
      { name: "events-to-billing", address: "events", forwardingAddress: "events.billing" },
      { name: "events-to-audit", address: "events", forwardingAddress: "events.audit" },
    ]);
    const properties = renderBrokerProperties(topology);
    expect(properties).toContain('addressSettings."events.billing".maxDeliveryAttempts=3');
    // The per-group dead-letter queues are excluded from a catch-all DLQ queue (there is none here).
    expect(properties).not.toContain('queueConfigs."DLQ"');
    expect(subscriptionQueueName("events", "audit")).toBe("events.audit");
  });
});

describe("ArtemisResource.withAddressSettings", () => {
  it("changes a declared address's settings on top of its own, and refuses an unknown address", () => {
    const broker = new ArtemisResource("broker")
      .addQueue("receipts", { maxDeliveryAttempts: 10, redeliveryDelayMs: 1000 })
      .addTopic("events", ["audit"])
      .withAddressSettings("receipts", { maxDeliveryAttempts: 2 })
      .withAddressSettings("events.audit", { redeliveryDelayMs: 100 });
    const settings = Object.fromEntries(broker.topology().addresses.map((a) => [a.name, a.settings]));
    expect(settings["receipts"]).toEqual({ maxDeliveryAttempts: 2, redeliveryDelayMs: 1000 });
    expect(settings["events.audit"]).toEqual({ redeliveryDelayMs: 100 });
    expect(() => broker.withAddressSettings("nope", {})).toThrow(
      /No address "nope" on broker "broker" \(have: receipts, events, events.audit\)/,
    );
  });
});
