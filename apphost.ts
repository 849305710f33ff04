// This repository's application model, the file the AppHost CLI loads (`npm run apphost`, or
// `npx apphost` here): the default export builds the AppBuilder, and this directory is the project
// root that the services' directories and .apphost/ are relative to. It uses the AppHost as any
// project would: through the package's public entry points only.
import {
  createApp,
  subscriptionQueueName,
  type AppBuilder,
  type ArtemisResource,
  type KafkaResource,
  type NodeServiceResource,
} from "@outbox/apphost";
import {
  outboxMessaging,
  purgePublishedOutboxRows,
  replayDeadLetters,
  replayReceiptDeadLetters,
} from "@outbox/apphost/outbox";

/** The brokers the services can use; `--transport` (APPHOST_TRANSPORT) picks one, Artemis by default. */
export const TRANSPORTS = ["artemis", "kafka"] as const;
export type TransportName = (typeof TRANSPORTS)[number];

export interface BuildAppOptions {
  /** Default: APPHOST_TRANSPORT (`npm run apphost -- --transport kafka` sets it), else artemis. */
  transport?: TransportName;
}

/** The transport APPHOST_TRANSPORT names; anything else is an error naming the allowed values. */
export function transportFromEnv(env: NodeJS.ProcessEnv = process.env): TransportName {
  const value = env.APPHOST_TRANSPORT?.trim() || "artemis";
  if (!(TRANSPORTS as readonly string[]).includes(value))
    throw new Error(`--transport (APPHOST_TRANSPORT) must be ${TRANSPORTS.join(" or ")}, got "${value}"`);
  return value as TransportName;
}

/** The consumer groups of entity-items and their retries, per transport (the same intent on both). */
const ENTITY_ITEMS_GROUPS = {
  receiver: {
    artemis: { maxDeliveryAttempts: 10 },
    // Kafka: a retry tier is a topic and a consumer of its own, so fewer tiers than Artemis'
    // 10 attempts, growing as Artemis' delay ×2: 5 attempts over 15 s.
    kafkaDelaysMs: [1_000, 2_000, 4_000, 8_000],
  },
  // The audit projection is a log: give up sooner, and wait longer between tries (Artemis: 2 s ×2,
  // 5 attempts; Kafka the same delays as tiers).
  audit: {
    artemis: { redeliveryDelayMs: 2_000, maxDeliveryAttempts: 5 },
    kafkaDelaysMs: [2_000, 4_000, 8_000, 16_000],
  },
} as const;

/** What each service is told about its broker: the resource and its variables. */
interface BrokerWiring {
  broker: ArtemisResource | KafkaResource;
  sender(service: NodeServiceResource): void;
  receiver(service: NodeServiceResource): void;
  /** How the replay commands describe where dead letters go back to. */
  deadLetters: { receiver: string; receipts: string };
}

function artemisBroker(app: AppBuilder): BrokerWiring {
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
      { name: "receiver", settings: ENTITY_ITEMS_GROUPS.receiver.artemis },
      { name: "audit", settings: ENTITY_ITEMS_GROUPS.audit.artemis },
    ])
    // Delivery receipts travel back from the receiver to the sender's outbox.
    .addQueue("delivery-receipts");
  return {
    broker,
    sender: (sender) =>
      sender
        // Each broker address a service is given is also what its own broker user may use.
        .withEnvironment("OUTBOX_ADDRESS", broker.sendsTo("entity-items"))
        // deadLetters: the sender's own API browses and replays receipts it could not record.
        .withEnvironment("RECEIPTS_QUEUE", broker.consumes("delivery-receipts", { deadLetters: true })),
    receiver: (receiver) =>
      receiver
        .withEnvironment(
          "RECEIVER_QUEUE",
          broker.consumes(subscriptionQueueName("entity-items", "receiver"), { deadLetters: true }),
        )
        .withEnvironment("RECEIVER_GROUP", "receiver")
        .withEnvironment(
          "AUDIT_QUEUE",
          broker.consumes(subscriptionQueueName("entity-items", "audit"), { deadLetters: true }),
        )
        .withEnvironment("RECEIPTS_ADDRESS", broker.sendsTo("delivery-receipts")),
    deadLetters: {
      receiver: "DLQ.entity-items.<group> back to entity-items.<group>, for every group",
      receipts: "DLQ.delivery-receipts back to delivery-receipts; their outbox rows become delivered",
    },
  };
}

/** A list of retry delays as the services read it (`none`: no tiers). */
function delays(list: readonly number[]): string {
  return list.length === 0 ? "none" : list.join(",");
}

function kafkaBroker(app: AppBuilder): BrokerWiring {
  const broker = app
    .addKafka("broker")
    // Partitions: a key (the aggregate id) stays in one, so per-entity order holds; 3 let the
    // receiver's replicas share the work. Each group gets its retry tiers, DLT and marks topics.
    .withTopic("entity-items", {
      partitions: 3,
      groups: [
        { name: "receiver", retryDelaysMs: ENTITY_ITEMS_GROUPS.receiver.kafkaDelaysMs },
        { name: "audit", retryDelaysMs: ENTITY_ITEMS_GROUPS.audit.kafkaDelaysMs },
      ],
    })
    // Delivery receipts travel back to the sender's outbox, read by its group (seed 004's tiers).
    .withTopic("delivery-receipts", { partitions: 1, groups: [{ name: "sender" }] });
  return {
    broker,
    sender: (sender) =>
      sender
        .withEnvironment("MESSAGING_TRANSPORT", "kafka")
        .withEnvironment("OUTBOX_ADDRESS", "entity-items")
        .withEnvironment("RECEIPTS_QUEUE", "delivery-receipts")
        .withEnvironment("RECEIPTS_GROUP", "sender")
        .withEnvironment(
          "RECEIPTS_RETRY_DELAYS_MS",
          delays(broker.retryDelaysMs("delivery-receipts", "sender")),
        ),
    receiver: (receiver) =>
      receiver
        .withEnvironment("MESSAGING_TRANSPORT", "kafka")
        // `<topic>.<group>`: the topic entity-items read by the group.id entity-items.<group>.
        .withEnvironment("RECEIVER_QUEUE", "entity-items.receiver")
        .withEnvironment("RECEIVER_GROUP", "receiver")
        .withEnvironment("RECEIVER_RETRY_DELAYS_MS", delays(broker.retryDelaysMs("entity-items", "receiver")))
        .withEnvironment("AUDIT_QUEUE", "entity-items.audit")
        .withEnvironment("AUDIT_RETRY_DELAYS_MS", delays(broker.retryDelaysMs("entity-items", "audit")))
        .withEnvironment("RECEIPTS_ADDRESS", "delivery-receipts"),
    deadLetters: {
      receiver: "entity-items.<group>.dlt back to the group, for every group",
      receipts: "delivery-receipts.sender.dlt back to the sender's group; their outbox rows become delivered",
    },
  };
}

/** This repository's distributed application, as Aspire's AppHost Program.cs would declare it. */
export function buildApp(options: BuildAppOptions = {}): AppBuilder {
  const transport = options.transport ?? transportFromEnv();
  const app = createApp({ name: "outbox-apphost" });

  // `Parameters__log-level=debug npm run apphost` (or Parameters__log_level) turns on debug logs.
  const logLevel = app.addParameter("log-level", { default: "info" });

  const senderDb = app.addPostgres("sender-pg").addDatabase("senderdb");
  const receiverDb = app.addPostgres("receiver-pg").addDatabase("receiverdb");

  const wiring = transport === "kafka" ? kafkaBroker(app) : artemisBroker(app);
  const { broker } = wiring;

  const sender = app
    .addNodeService("sender", "sender-service")
    // A one-shot step with the owner's credentials; the service itself gets the runtime role only.
    .withMigrations("src/migrate-main.ts")
    .withReference(senderDb)
    .withReference(broker)
    .waitFor(senderDb)
    .waitFor(broker);
  wiring.sender(sender);
  sender
    .withEnvironment("LOG_LEVEL", logLevel)
    .withHttpEndpoint()
    .withHttpHealthCheck("/health")
    .withLivenessCheck("/alive")
    .withCommand("purge-published", "Purge published outbox rows", purgePublishedOutboxRows(), {
      confirm: "Delete every published and delivered outbox row now? Pending and dead rows stay.",
      description: "What the retention job does later, now",
    })
    // Over the sender's own dead-letter API, whichever broker holds the receipts.
    .withCommand("replay-receipt-dead-letters", "Replay receipt dead letters", replayReceiptDeadLetters(), {
      confirm: "Move every dead-lettered delivery receipt back to the receipts queue?",
      description: wiring.deadLetters.receipts,
    });

  const receiver = app
    .addNodeService("receiver", "receiver-service")
    .withMigrations("src/migrate-main.ts")
    .withReference(receiverDb)
    .withReference(broker)
    .waitFor(receiverDb)
    .waitFor(broker);
  wiring.receiver(receiver);
  receiver
    .withEnvironment("LOG_LEVEL", logLevel)
    .withHttpEndpoint()
    .withHttpHealthCheck("/health")
    .withLivenessCheck("/alive")
    .withCommand("replay-dead-letters", "Replay dead letters", replayDeadLetters(["receiver", "audit"]), {
      confirm: "Move every dead-lettered message back to its consumer group's queue?",
      description: wiring.deadLetters.receiver,
    });

  // The dashboard's Messaging and Journey pages, their replay buttons and the message_journey MCP
  // tool read these services' outbox, consumer-group and dead-letter APIs (the same on either broker).
  app.addDashboardContribution(outboxMessaging({ services: [sender, receiver] }));

  return app;
}

export default buildApp;
