// The transport contract suite (messaging/test/transport-contract.ts) against a real Artemis
// started by the AppHost harness, with the topology the suite declares provisioned by the model.
import { AppBuilder, type DistributedApplication } from "@outbox/apphost";
import { startTestApp, stopTestApp } from "@outbox/apphost/testing";
import { artemisTransport, BrokerManagement, groupQueue } from "@outbox/messaging";
import { createLogger } from "@outbox/service-defaults";
import type { Connection } from "rhea";
import { describeTransportContract } from "../messaging/test/transport-contract.js";
import { connectToBrokerAt, sendAndConfirm } from "./support/receiver.js";

const logger = createLogger("transport-contract", "silent");

describeTransportContract("artemis", async (topology) => {
  const model = new AppBuilder({ name: "transport-contract" });
  const broker = model
    .addArtemis("broker")
    .withDefaultAddressSettings({
      deadLetterAddress: "DLQ",
      autoCreateDeadLetterResources: true,
      // The suite's redelivery test waits for the redelivery: no delay to sit through.
      redeliveryDelayMs: 0,
      maxDeliveryAttempts: 5,
    })
    .withDuplicateIdCache(10_000);
  for (const destination of topology.destinations) broker.addTopic(destination.name, [...destination.groups]);
  let app: DistributedApplication | undefined;
  let raw: Connection | undefined;
  let management: BrokerManagement | undefined;
  const close = async (): Promise<void> => {
    management?.close();
    raw?.close();
    await stopTestApp(app);
  };
  try {
    app = await startTestApp({ model });
    const url = app.getConnectionString("broker");
    raw = await connectToBrokerAt(url);
    management = new BrokerManagement(raw);
    const connection = raw;
    const manage = management;
    return {
      transport: (name) => artemisTransport({ url, containerId: name, logger }),
      raw: {
        // An AMQP message with an id and nothing an envelope needs (no type, no version, no JSON).
        injectUndecodable: (destination, messageId) =>
          sendAndConfirm(connection, destination, { message_id: messageId, body: "not an envelope" }),
        backlog: async (source, group) =>
          Number(await manage.call(`queue.${groupQueue(source, group)}`, "getMessageCount")),
      },
      dropsResends: true,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
});
