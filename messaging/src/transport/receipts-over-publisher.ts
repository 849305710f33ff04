import type { TraceHeaders } from "../contracts/envelope.js";
import type { ReceiptBatchBody } from "../contracts/receipt.js";
import type { PublisherState, PublishOutcome, ReceiptPublisher } from "./transport.js";

/** What a transport's own publisher offers that receipts need: a send of its native message. */
export interface NativePublisher<M> {
  start(): void;
  isSendable(): boolean;
  waitUntilSendable(timeoutMs: number, signal: AbortSignal): Promise<boolean>;
  send(message: M): Promise<PublishOutcome>;
  state(): PublisherState;
  close(timeoutMs?: number): Promise<void>;
}

/**
 * Delivery receipts over one publisher of a transport, each encoded by `encode` (the transport's
 * form of the receipt contract). A receipt is sent right after a commit, so a publisher still
 * connecting is waited for (within the send timeout) instead of answered `unknown` at once.
 */
export class ReceiptsOverPublisher<M> implements ReceiptPublisher {
  private readonly closing = new AbortController();

  constructor(
    private readonly publisher: NativePublisher<M>,
    private readonly encode: (id: string, body: ReceiptBatchBody, trace: TraceHeaders) => M,
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
    return this.publisher.send(this.encode(id, body, trace));
  }

  state(): PublisherState {
    return this.publisher.state();
  }

  close(timeoutMs?: number): Promise<void> {
    this.closing.abort();
    return this.publisher.close(timeoutMs);
  }
}
