// The sender's broker, chosen by configuration (MESSAGING_TRANSPORT): how the relay publishes,
// where the receipts are read from, the receipts' dead letters its admin API serves, and the broker
// health check. Artemis keeps its own AMQP publisher and management-backed DLQ; Kafka goes through
// the transport's publisher and its DeadLetterStore.
import {
  AmqpPublisher,
  artemisTransport,
  BrokerManagement,
  DeadLetterQueue,
  defaultDeadLetterQueue,
  kafkaGroupTopics,
  kafkaTransport,
  type DeadLetterOperations,
  type Transport,
  type TransportPublisher,
} from "@outbox/messaging";
import { partitionOffsetDeadLetters, type HealthCheck, type Logger } from "@outbox/service-defaults";
import type { SenderConfig } from "../config.js";

export interface SenderMessaging {
  transport: Transport;
  /** What startRelay publishes with: Artemis' own publisher, or the transport (which makes one). */
  relay: { publisher: TransportPublisher } | { transport: Transport };
  /** The receipts' source and consumer group, when RECEIPTS_QUEUE is set. */
  receipts: { source: string; group?: string } | undefined;
  /** The receipts' dead letters, when RECEIPTS_QUEUE is set. */
  receiptDeadLetters: DeadLetterOperations | undefined;
  /** The connection's health (the caller turns unhealthy into degraded). */
  brokerHealthCheck: HealthCheck;
  /** Closes what the dead-letter side opened; the transport is closed apart. */
  closeDeadLetters(): Promise<void>;
}

export function senderMessaging(config: SenderConfig, logger: Logger): SenderMessaging {
  return config.broker.transport === "kafka"
    ? kafkaMessaging(config, config.broker.brokers, logger)
    : artemisMessaging(config, config.broker.url, logger);
}

// One AMQP connection: the transport's, shared by the relay's publisher, the receipt consumer and
// the receipt dead-letter management.
function artemisMessaging(config: SenderConfig, url: string, logger: Logger): SenderMessaging {
  const transport = artemisTransport({ url, containerId: config.instanceId, logger });
  const amqp = transport.amqp;
  const publisher = new AmqpPublisher({
    amqp,
    address: config.outbox.address,
    linkName: `outbox-${config.instanceId}`,
    sendTimeoutMs: config.outbox.sendTimeoutMs,
    logger,
  });
  const queue = config.receiptsQueue;
  // Receipts the consumer could not record end in the receipts queue's DLQ: browse and replay them.
  const management = queue === undefined ? undefined : new BrokerManagement(amqp.connection);
  return {
    transport,
    relay: { publisher },
    // The receipts queue is a plain queue: read by its fully qualified name, whatever the group.
    receipts:
      queue === undefined ? undefined : { source: queue.includes("::") ? queue : `${queue}::${queue}` },
    receiptDeadLetters:
      management === undefined || queue === undefined
        ? undefined
        : new DeadLetterQueue(management, defaultDeadLetterQueue(queue)),
    brokerHealthCheck: amqp.healthCheck(),
    closeDeadLetters: () => Promise.resolve(management?.close()),
  };
}

function kafkaMessaging(config: SenderConfig, brokers: string[], logger: Logger): SenderMessaging {
  const { group, retryDelaysMs } = config.receipts;
  const transport = kafkaTransport({ brokers, clientId: config.instanceId, logger, retryDelaysMs });
  const topic = config.receiptsQueue;
  const store = topic === undefined ? undefined : transport.deadLetters(topic, group);
  return {
    transport,
    relay: { transport },
    receipts: topic === undefined ? undefined : { source: topic, group },
    receiptDeadLetters:
      store === undefined || topic === undefined
        ? undefined
        : partitionOffsetDeadLetters(store, kafkaGroupTopics(topic, group, retryDelaysMs.length).deadLetter),
    brokerHealthCheck: transport.healthCheck(),
    closeDeadLetters: async () => store?.close(),
  };
}
