import type { TraceHeaders } from "../../contracts/envelope.js";
import type { ReceiptBatchBody } from "../../contracts/receipt.js";
import type { PublisherState, PublishOutcome, ReceiptPublisher } from "../../transport/transport.js";
import type { KafkaPublisher } from "./publisher.js";
import { toKafkaReceiptRecord } from "./record.js";

/**
 * Delivery receipts over one KafkaPublisher to the producer's receipts topic (record key = the
 * consumer group, receipt id in the `message-id` header). A receipt is sent right after a commit,
 * so a producer still connecting is waited for (within the send timeout).
 */
export class KafkaReceiptPublisher implements ReceiptPublisher {
  private readonly closing = new AbortController();

  constructor(
    private readonly publisher: KafkaPublisher,
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
    return this.publisher.send(toKafkaReceiptRecord(id, body, trace));
  }

  state(): PublisherState {
    return this.publisher.state();
  }

  close(timeoutMs?: number): Promise<void> {
    this.closing.abort();
    return this.publisher.close(timeoutMs);
  }
}
