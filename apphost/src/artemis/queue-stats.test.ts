import { describe, expect, it } from "vitest";
import { parseQueueStatJson } from "./queue-stats.js";

// Trimmed output of `artemis queue stat --json --silent` (2.56.0): every value is a string.
const sample = `{"data":[
   {"id":"21","name":"$sys.mqtt.sessions","address":"$sys.mqtt.sessions","durable":"true","temporary":"false","consumerCount":"0","routingType":"ANYCAST","messagesAdded":"0","messageCount":"0","messagesAcked":"0","internalQueue":"true"},
   {"id":"209","name":"DLQ.entity-items","address":"DLQ","filter":"_AMQ_ORIG_ADDRESS = 'entity-items'","durable":"true","temporary":"false","consumerCount":"0","routingType":"ANYCAST","messagesAdded":"2","messageCount":"2","messagesAcked":"0","internalQueue":"false"},
   {"id":"395","name":"activemq.management.30594adf","address":"activemq.management.30594adf","durable":"false","temporary":"true","consumerCount":"1","routingType":"ANYCAST","messagesAdded":"0","messageCount":"0","messagesAcked":"0","internalQueue":"false"},
   {"id":"11","name":"entity-items","address":"entity-items","durable":"true","temporary":"false","consumerCount":"3","routingType":"ANYCAST","messagesAdded":"4","messageCount":"1","messagesAcked":"2","internalQueue":"false"}
],"count":4}
`;

describe("parseQueueStatJson", () => {
  it("returns the application queues with numeric counters", () => {
    expect(parseQueueStatJson(sample)).toEqual([
      {
        queue: "DLQ.entity-items",
        address: "DLQ",
        messageCount: 2,
        consumerCount: 0,
        messagesAdded: 2,
        messagesAcked: 0,
      },
      {
        queue: "entity-items",
        address: "entity-items",
        messageCount: 1,
        consumerCount: 3,
        messagesAdded: 4,
        messagesAcked: 2,
      },
    ]);
  });

  it("keeps internal and temporary queues on request and tolerates a leading banner", () => {
    expect(parseQueueStatJson(`Connection brokerURL = tcp://127.0.0.1:1\n${sample}`, true)).toHaveLength(4);
  });

  it("fails clearly on non-JSON output", () => {
    expect(() => parseQueueStatJson("Connection refused")).toThrow(/No JSON/);
  });
});
