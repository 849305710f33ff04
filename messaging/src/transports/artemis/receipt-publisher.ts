import type { TraceHeaders } from "../../contracts/envelope.js";
import { toReceiptAmqpMessage, type ReceiptBatchBody } from "../../contracts/receipt.js";
import type { PublisherState, PublishOutcome, ReceiptPublisher } from "../../transport/transport.js";
import type { AmqpPublisher } from "./publisher.js";

/**
 * Delivery receipts over one AmqpPublisher link to the producer's receipts address, in the receipt
 * contract's AMQP form (toReceiptAmqpMessage: durable, the receipt id as message id and duplicate
 * id). A receipt is sent right after a commit, so a link still attaching is waited for (within the
 * send timeout) instead of answered `unknown` at once.
 */
export class ArtemisReceiptPublisher implements ReceiptPublisher {
  private readonly closing = new AbortController();

  constructor(
    private readonly publisher: AmqpPublisher,
    private readonly sendTimeoutMs: number,
  ) {}

  start(): void {
    this.publisher.start();
  }

  isSendable(): boolean {
    return this.publisher.isSendable();
  }

  async publish(id: string, body: ReceiptBatchBody, trace: TraceHeaders): Promise<PublishOutcome> {
    if (!this.publisher.isSendable()) {
      await this.publisher.waitUntilSendable(this.sendTimeoutMs, this.closing.signal);
    }
    return this.publisher.send(toReceiptAmqpMessage(id, body, trace));
  }

  state(): PublisherState {
    return this.publisher.state();
  }

  close(timeoutMs?: number): Promise<void> {
    this.closing.abort();
    return this.publisher.close(timeoutMs);
  }
}
