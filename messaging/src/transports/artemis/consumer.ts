import type { Logger } from "@outbox/service-defaults";
import type { Message } from "rhea";
import { messageGroup, readEnvelope, readMessageId, readTraceHeaders } from "../../contracts/envelope.js";
import { parseReceiptMessage } from "../../contracts/receipt.js";
import { BatchConsumer, type Decoded, type Settlement } from "../../inbox/batch-consumer.js";
import type {
  ConsumerOptions,
  ConsumerState,
  ContractName,
  Contracts,
  InboundMessage,
  TransportConsumer,
} from "../../transport/transport.js";
import type { AmqpConnection } from "./connection.js";
import { groupQueue } from "./topology.js";

type Decoder<K extends ContractName> = (message: Message) => Decoded<Contracts[K]>;

/** Each contract's reader: the same modules the producers write with (contracts/). */
const decoders: { [K in ContractName]: Decoder<K> } = {
  event: (message) => {
    const read = readEnvelope(message);
    return read.ok ? { ok: true, value: read.envelope } : { ok: false, reason: read.reason };
  },
  receipt: (message) => {
    const receipt = parseReceiptMessage(message);
    return receipt === undefined
      ? { ok: false, reason: "not a delivery receipt" }
      : { ok: true, value: receipt };
  },
};

/** The decoded delivery as the seam hands it out; undecodable: the reason. */
export function toInboundMessage<K extends ContractName>(
  contract: K,
  message: Message,
): Decoded<InboundMessage<Contracts[K]>> {
  const messageId = readMessageId(message.message_id);
  if (messageId === undefined) return { ok: false, reason: "missing or invalid message_id" };
  const decoded = (decoders[contract] as Decoder<K>)(message);
  if (!decoded.ok) return decoded;
  return {
    ok: true,
    value: {
      messageId,
      // The message group is the ordering key: Artemis pins a group to one consumer.
      key: messageGroup(message),
      value: decoded.value,
      trace: readTraceHeaders(message),
      // AMQP delivery-count = earlier failed attempts.
      attempt: (message.delivery_count ?? 0) + 1,
      native: message,
    },
  };
}

/**
 * The seam's consumer over Artemis: BatchConsumer (bounded link credit, batches, per-group order,
 * settlement, pause on a database outage) reading the group's queue, each delivery decoded by its
 * contract into an InboundMessage; an undecodable one is rejected on arrival (the broker
 * dead-letters it) and reported through onUndecodable.
 */
export class ArtemisConsumer<K extends ContractName, O extends Settlement> implements TransportConsumer {
  readonly queue: string;
  private readonly consumer: BatchConsumer<InboundMessage<Contracts[K]>, O>;

  constructor(amqp: Pick<AmqpConnection, "connection">, options: ConsumerOptions<K, O>, logger: Logger) {
    this.queue = groupQueue(options.source, options.group);
    const { onUndecodable, probe, onSettled, onResume, stopTimeoutMs } = options;
    this.consumer = new BatchConsumer<InboundMessage<Contracts[K]>, O>({
      connection: amqp.connection,
      queue: this.queue,
      // Every queue this transport reads is anycast (a group's queue, a point-to-point queue).
      capabilities: ["queue"],
      maxInFlight: options.maxInFlight,
      batchSize: options.batchSize,
      lingerMs: options.lingerMs,
      logger: logger.child({ component: "artemis-consumer", queue: this.queue, group: options.group }),
      decode: (message) => {
        const decoded = toInboundMessage(options.contract, message);
        if (!decoded.ok) onUndecodable?.(decoded.reason, readMessageId(message.message_id));
        return decoded;
      },
      keyOf: messageGroup,
      handle: (batch, context) =>
        options.handle(
          batch.map((delivery) => delivery.value),
          context,
        ),
      ...(probe !== undefined ? { probe } : {}),
      ...(onSettled !== undefined
        ? {
            onSettled: (outcome: O, delivery: { value: InboundMessage<Contracts[K]> }) =>
              onSettled(outcome, delivery.value),
          }
        : {}),
      ...(onResume !== undefined ? { onResume } : {}),
      ...(stopTimeoutMs !== undefined ? { stopTimeoutMs } : {}),
    });
  }

  start(): void {
    this.consumer.start();
  }

  state(): ConsumerState {
    const { attached, paused, inFlight, received, undecodable } = this.consumer.state();
    return { attached, paused, inFlight, received, undecodable };
  }

  stop(): Promise<void> {
    return this.consumer.stop();
  }
}
