// The receiver's broker, chosen by configuration (MESSAGING_TRANSPORT): the transport its consumers
// read through, the dead-letter queues its admin API serves, and its broker health check. Artemis
// keeps its own management-backed DLQs; Kafka's are the groups' dead-letter topics, through the
// transport's DeadLetterStore.
import {
  artemisTransport,
  BrokerManagement,
  DeadLetterQueue,
  defaultDeadLetterQueue,
  kafkaGroupTopics,
  kafkaTransport,
  type DeadLetterOperations,
  type DeadLetterStore,
  type Transport,
} from "@outbox/messaging";
import { partitionOffsetDeadLetters, type HealthCheck, type Logger } from "@outbox/service-defaults";
import type { ReceiverConfig } from "./config.js";
import { consumerSource } from "./consumer-source.js";

export interface ReceiverMessaging {
  transport: Transport;
  /** The (source, group) a configured queue is read as, on this transport. */
  sourceOf(queue: string, group: string): { source: string };
  /** Consumer group → its dead-letter queue, for the admin routes. */
  deadLetterQueues: Map<string, DeadLetterOperations>;
  /** The `broker` health check of a running consumer: the connection's state, then the consumer's. */
  brokerHealthCheck(consumerCheck: HealthCheck): HealthCheck;
  /** Closes what the dead-letter side opened (management link, DLT readers); the transport is closed apart. */
  closeDeadLetters(): Promise<void>;
}

/** The consumer groups this process runs: the main one, and the audit projection when configured. */
function groups(config: ReceiverConfig): Array<{ queue: string; group: string }> {
  return [
    { queue: config.RECEIVER_QUEUE, group: config.RECEIVER_GROUP },
    ...(config.AUDIT_QUEUE === undefined ? [] : [{ queue: config.AUDIT_QUEUE, group: "audit" }]),
  ];
}

export function receiverMessaging(
  config: ReceiverConfig,
  logger: Logger,
  clientId: string,
): ReceiverMessaging {
  return config.broker.transport === "kafka"
    ? kafkaMessaging(config, config.broker.brokers, logger, clientId)
    : artemisMessaging(config, config.broker.url, logger, clientId);
}

function artemisMessaging(
  config: ReceiverConfig,
  url: string,
  logger: Logger,
  containerId: string,
): ReceiverMessaging {
  const transport = artemisTransport({ url, containerId, logger });
  const amqp = transport.amqp;
  const management = new BrokerManagement(amqp.connection);
  const deadLetterQueues = new Map<string, DeadLetterOperations>([
    [
      config.RECEIVER_GROUP,
      new DeadLetterQueue(management, config.RECEIVER_DLQ ?? defaultDeadLetterQueue(config.RECEIVER_QUEUE)),
    ],
  ]);
  if (config.AUDIT_QUEUE !== undefined) {
    deadLetterQueues.set(
      "audit",
      new DeadLetterQueue(management, defaultDeadLetterQueue(config.AUDIT_QUEUE)),
    );
  }
  return {
    transport,
    sourceOf: consumerSource,
    deadLetterQueues,
    brokerHealthCheck: (consumerCheck) => {
      const connectionCheck = amqp.healthCheck();
      return async () => (amqp.isConnected() ? consumerCheck() : connectionCheck());
    },
    closeDeadLetters: () => Promise.resolve(management.close()),
  };
}

/** On Kafka a group's queue `<topic>.<group>` is the topic read by that group.id; nothing else names one. */
function kafkaSource(queue: string, group: string): { source: string } {
  const suffix = `.${group}`;
  if (!queue.endsWith(suffix) || queue.length === suffix.length)
    throw new Error(`On Kafka the queue of group "${group}" must be "<topic>.${group}", got "${queue}"`);
  return { source: queue.slice(0, -suffix.length) };
}

function kafkaMessaging(
  config: ReceiverConfig,
  brokers: string[],
  logger: Logger,
  clientId: string,
): ReceiverMessaging {
  if (config.RECEIVER_DLQ !== undefined)
    throw new Error(
      "RECEIVER_DLQ names an Artemis queue; on Kafka the group's dead letters are its topic <topic>.<group>.dlt",
    );
  const delays = new Map<string, readonly number[]>([
    [config.RECEIVER_GROUP, config.RECEIVER_RETRY_DELAYS_MS],
    ["audit", config.AUDIT_RETRY_DELAYS_MS],
  ]);
  const transport = kafkaTransport({
    brokers,
    clientId,
    logger,
    retryDelaysMs: (_source, group) => delays.get(group) ?? config.RECEIVER_RETRY_DELAYS_MS,
  });
  const stores: DeadLetterStore[] = [];
  const deadLetterQueues = new Map<string, DeadLetterOperations>();
  for (const { queue, group } of groups(config)) {
    const { source } = kafkaSource(queue, group);
    const store = transport.deadLetters(source, group);
    stores.push(store);
    const tiers = (delays.get(group) ?? []).length;
    deadLetterQueues.set(
      group,
      partitionOffsetDeadLetters(store, kafkaGroupTopics(source, group, tiers).deadLetter),
    );
  }
  const connectionCheck = transport.healthCheck();
  return {
    transport,
    sourceOf: kafkaSource,
    deadLetterQueues,
    brokerHealthCheck: (consumerCheck) => async () => {
      const connection = await connectionCheck();
      return connection.status === "healthy" ? consumerCheck() : connection;
    },
    closeDeadLetters: async () => {
      await Promise.all(stores.map((s) => s.close()));
    },
  };
}
