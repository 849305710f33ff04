// This repository's application model, the file the AppHost CLI loads (`npm run apphost`, or
// `npx apphost` here): the default export builds the AppBuilder, and this directory is the project
// root that the services' directories and .apphost/ are relative to. It uses the AppHost as any
// project would: through the package's public entry points only.
import { createApp, subscriptionQueueName, type AppBuilder } from "@outbox/apphost";
import {
  outboxMessaging,
  purgePublishedOutboxRows,
  replayDeadLetters,
  replayReceiptDeadLetters,
} from "@outbox/apphost/outbox";

/** This repository's distributed application, as Aspire's AppHost Program.cs would declare it. */
export function buildApp(): AppBuilder {
  const app = createApp({ name: "outbox-apphost" });

  // `Parameters__log-level=debug npm run apphost` (or Parameters__log_level) turns on debug logs.
  const logLevel = app.addParameter("log-level", { default: "info" });

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
    // Events fan out to every consumer group; each group has its own queue entity-items.<group>,
    // its own retry budget and its own dead-letter queue DLQ.entity-items.<group>.
    .addTopic("entity-items", [
      { name: "receiver", settings: { maxDeliveryAttempts: 10 } },
      // The audit projection is a log: give up sooner, and wait longer between tries.
      { name: "audit", settings: { redeliveryDelayMs: 2_000, maxDeliveryAttempts: 5 } },
    ])
    // Delivery receipts travel back from the receiver to the sender's outbox.
    .addQueue("delivery-receipts");

  const sender = app
    .addNodeService("sender", "sender-service")
    // A one-shot step with the owner's credentials; the service itself gets the runtime role only.
    .withMigrations("src/migrate-main.ts")
    .withReference(senderDb)
    .withReference(broker)
    .waitFor(senderDb)
    .waitFor(broker)
    // Each broker address a service is given is also what its own broker user may use.
    .withEnvironment("OUTBOX_ADDRESS", broker.sendsTo("entity-items"))
    // deadLetters: the sender's own API browses and replays receipts it could not record.
    .withEnvironment("RECEIPTS_QUEUE", broker.consumes("delivery-receipts", { deadLetters: true }))
    .withEnvironment("LOG_LEVEL", logLevel)
    .withHttpEndpoint()
    .withHttpHealthCheck("/health")
    .withLivenessCheck("/alive")
    .withCommand("purge-published", "Purge published outbox rows", purgePublishedOutboxRows(), {
      confirm: "Delete every published and delivered outbox row now? Pending and dead rows stay.",
      description: "What the retention job does later, now",
    })
    .withCommand("replay-receipt-dead-letters", "Replay receipt dead letters", replayReceiptDeadLetters(), {
      confirm: "Move every dead-lettered delivery receipt back to the receipts queue?",
      description: "DLQ.delivery-receipts back to delivery-receipts; their outbox rows become delivered",
    });

  const receiver = app
    .addNodeService("receiver", "receiver-service")
    .withMigrations("src/migrate-main.ts")
    .withReference(receiverDb)
    .withReference(broker)
    .waitFor(receiverDb)
    .waitFor(broker)
    .withEnvironment(
      "RECEIVER_QUEUE",
      broker.consumes(subscriptionQueueName("entity-items", "receiver"), { deadLetters: true }),
    )
    .withEnvironment("RECEIVER_GROUP", "receiver")
    .withEnvironment(
      "AUDIT_QUEUE",
      broker.consumes(subscriptionQueueName("entity-items", "audit"), { deadLetters: true }),
    )
    .withEnvironment("RECEIPTS_ADDRESS", broker.sendsTo("delivery-receipts"))
    .withEnvironment("LOG_LEVEL", logLevel)
    .withHttpEndpoint()
    .withHttpHealthCheck("/health")
    .withLivenessCheck("/alive")
    .withCommand("replay-dead-letters", "Replay dead letters", replayDeadLetters(["receiver", "audit"]), {
      confirm: "Move every dead-lettered message back to its consumer group's queue?",
      description: "DLQ.entity-items.<group> back to entity-items.<group>, for every group",
    });

  // The dashboard's Messaging and Journey pages, their replay buttons and the message_journey MCP
  // tool read these services' outbox, consumer-group and dead-letter APIs.
  app.addDashboardContribution(outboxMessaging({ services: [sender, receiver] }));

  return app;
}

export default buildApp;
