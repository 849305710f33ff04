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
