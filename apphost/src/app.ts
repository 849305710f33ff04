import { createApp, type AppBuilder } from "./model/app-builder.js";

/** This repository's distributed application, as Aspire's AppHost Program.cs would declare it. */
export function buildApp(): AppBuilder {
  const app = createApp({ name: "outbox-apphost" });

  const senderDb = app.addPostgres("sender-pg").addDatabase("senderdb");
  const receiverDb = app.addPostgres("receiver-pg").addDatabase("receiverdb");

  const broker = app
    .addArtemis("broker")
    .withDefaultAddressSettings({
      deadLetterAddress: "DLQ",
      autoCreateDeadLetterResources: true,
      redeliveryDelayMs: 1000,
      redeliveryMultiplier: 2,
      maxRedeliveryDelayMs: 30_000,
      maxDeliveryAttempts: 10,
    })
    .withDuplicateIdCache(100_000)
    .addQueue("entity-items");

  app
    .addNodeService("sender", "sender-service")
    .withReference(senderDb)
    .withReference(broker)
    .waitFor(senderDb)
    .waitFor(broker)
    .withEnvironment("OUTBOX_ADDRESS", "entity-items")
    .withHttpEndpoint()
    .withHttpHealthCheck("/health");

  app
    .addNodeService("receiver", "receiver-service")
    .withReference(receiverDb)
    .withReference(broker)
    .waitFor(receiverDb)
    .waitFor(broker)
    .withEnvironment("RECEIVER_QUEUE", "entity-items")
    .withHttpEndpoint()
    .withHttpHealthCheck("/health");

  return app;
}
