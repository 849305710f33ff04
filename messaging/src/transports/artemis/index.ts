import type { HealthCheck } from "../../health.js";
import type { Logger } from "../../logger.js";
import type { Settlement } from "../../inbox/batch-consumer.js";
import type {
  ConsumerOptions,
  ContractName,
  DeadLetterStore,
  PublisherOptions,
  ReceiptPublisher,
  Transport,
  TransportConsumer,
} from "../../transport/transport.js";
import { AmqpConnection } from "./connection.js";
import { ArtemisConsumer } from "./consumer.js";
import { DeadLetterQueue } from "./dead-letter-queue.js";
import { ArtemisDeadLetters } from "./dead-letters.js";
import { BrokerManagement } from "./management.js";
import { AmqpPublisher } from "./publisher.js";
import { ReceiptsOverPublisher } from "../../transport/receipts-over-publisher.js";
import { toReceiptAmqpMessage } from "../../contracts/receipt.js";
import { groupDeadLetterQueue, groupQueue } from "./topology.js";

export interface ArtemisTransportOptions {
  /** `amqp://user:pass@host:port` (or `amqps://`). */
  url: string;
  /** The AMQP container id: unique per process (it names the connection on the broker). */
  containerId: string;
  logger: Logger;
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number };
  idleTimeoutMs?: number;
  closeTimeoutMs?: number;
  /** How long a management call (dead-letter browse, replay, delete) may take. Default 10 s. */
  managementTimeoutMs?: number;
}

/**
 * The Transport over ActiveMQ Artemis (AMQP 1.0, rhea): one connection per transport, a sender
 * link per publisher, a receiver link per consumer, management calls for the dead letters.
 * docs/transport-mapping.md says how each concept of the seam maps.
 */
export class ArtemisTransport implements Transport {
  readonly name = "artemis";
  /** The connection, for what the seam does not cover (health checks, tests). */
  readonly amqp: AmqpConnection;
  private readonly logger: Logger;
  private readonly managementTimeoutMs: number;
  private management: BrokerManagement | undefined;

  constructor(options: ArtemisTransportOptions) {
    this.logger = options.logger;
    this.managementTimeoutMs = options.managementTimeoutMs ?? 10_000;
    this.amqp = new AmqpConnection({
      url: options.url,
      containerId: options.containerId,
      logger: options.logger,
      ...(options.reconnect !== undefined ? { reconnect: options.reconnect } : {}),
      ...(options.idleTimeoutMs !== undefined ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
      ...(options.closeTimeoutMs !== undefined ? { closeTimeoutMs: options.closeTimeoutMs } : {}),
    });
  }

  publisher(options: PublisherOptions): AmqpPublisher {
    return this.amqpPublisher(options);
  }

  consumer<K extends ContractName, O extends Settlement>(options: ConsumerOptions<K, O>): TransportConsumer {
    return new ArtemisConsumer(this.amqp, options, this.logger);
  }

  receiptPublisher(options: PublisherOptions): ReceiptPublisher {
    return new ReceiptsOverPublisher(
      this.amqpPublisher(options),
      toReceiptAmqpMessage,
      options.sendTimeoutMs,
    );
  }

  deadLetters(source: string, group: string): DeadLetterStore {
    const queue = groupQueue(source, group);
    this.management ??= new BrokerManagement(this.amqp.connection, this.managementTimeoutMs);
    const dlq = new DeadLetterQueue(this.management, groupDeadLetterQueue(source, group));
    return new ArtemisDeadLetters(dlq, { source, group, queue });
  }

  open(): void {
    this.amqp.open();
  }

  isConnected(): boolean {
    return this.amqp.isConnected();
  }

  healthCheck(): HealthCheck {
    return this.amqp.healthCheck();
  }

  /** Closes the management links and the connection (and with it every link); stop consumers first. */
  async close(): Promise<void> {
    this.management?.close();
    this.management = undefined;
    await this.amqp.close();
  }

  private amqpPublisher(options: PublisherOptions): AmqpPublisher {
    if (!Number.isFinite(options.sendTimeoutMs) || options.sendTimeoutMs <= 0) {
      throw new Error(`sendTimeoutMs must be a positive number, got ${options.sendTimeoutMs}`);
    }
    return new AmqpPublisher({
      amqp: this.amqp,
      address: options.destination,
      linkName: options.name,
      sendTimeoutMs: options.sendTimeoutMs,
      logger: this.logger,
    });
  }
}

/** A Transport over Artemis; call open() to connect. */
export function artemisTransport(options: ArtemisTransportOptions): ArtemisTransport {
  return new ArtemisTransport(options);
}
