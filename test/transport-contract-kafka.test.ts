// The transport contract suite (messaging/test/transport-contract.ts) against a real Kafka (KRaft,
// process mode) started by the AppHost harness, with the source, retry, dead-letter and marks
// topics of the suite's topology created by the model. Short retry delays keep the redelivery
// test quick; the delays themselves are tested in kafka-transport.test.ts.
import { describeTransportContract } from "../messaging/test/transport-contract.js";
import { startKafkaTestBroker } from "./support/kafka-transport-harness.js";

describeTransportContract("kafka", async (topology) => {
  const broker = await startKafkaTestBroker("transport-contract-kafka", topology, [200, 400]);
  return {
    transport: (name) => broker.transport(name),
    raw: {
      // A record with an id and nothing an envelope needs (no type, no version, no JSON).
      injectUndecodable: (destination, messageId) =>
        broker.produce(destination, { value: "not an envelope", headers: { "message-id": messageId } }),
      backlog: (source, group) => broker.lag(source, group),
    },
    // Kafka drops a resend only within one idempotent producer session: the inbox drops the rest.
    dropsResends: false,
    close: () => broker.close(),
  };
});
