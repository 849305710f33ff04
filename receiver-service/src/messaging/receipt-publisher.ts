import { SpanStatusCode } from "@opentelemetry/api";
import { buildReceiptBody, receiptId, toReceiptAmqpMessage } from "@outbox/messaging";
import type { Connection, EventContext, Sender } from "rhea";
import { receiptEntries, type AppliedMessage } from "./receipt-batch.js";
import { startReceiptSendSpan } from "./receipt-span.js";

export class ReceiptNotSentError extends Error {
  override name = "ReceiptNotSentError";
}

/**
 * Publishes delivery receipts, durably, and resolves only when the broker accepted one. The
 * consumer sends ONE receipt per committed batch (format version 2, the receipt contract of @outbox/messaging) after its
 * commit and before it accepts the batch's deliveries, so a receipt that cannot be sent turns into
 * a redelivery of the whole batch (which the inbox sees as duplicates and which sends a receipt
 * again): at least once per message, no receiver-side outbox needed. The broker drops an identical
 * re-send by its `_AMQ_DUPL_ID` (receiptId), and the sender's update is idempotent for the rest.
 */
export class ReceiptPublisher {
  private sender: Sender | undefined;
  private nextTag = 0;
  private readonly pending = new Map<
    string,
    { resolve: () => void; reject: (error: Error) => void; timer: NodeJS.Timeout }
  >();

  constructor(
    private readonly connection: Connection,
    private readonly address: string,
    private readonly group: string,
    private readonly timeoutMs = 10_000,
  ) {
    // rhea drops unsettled sends on a reconnect without an event: fail them, the caller retries.
    connection.on("disconnected", this.failAll);
  }

  /** One receipt for every message of `applied` (nothing to send when it is empty). */
  async publish(applied: readonly AppliedMessage[]): Promise<void> {
    if (applied.length === 0) return;
    const sender = await this.sendable();
    const body = buildReceiptBody(this.group, receiptEntries(applied), new Date());
    const messageIds = body.receipts.map((r) => r.messageId);
    const id = receiptId(this.group, messageIds);
    const { span, traceHeaders } = startReceiptSendSpan(this.address, id, messageIds.length);
    const tag = String(this.nextTag++);
    const settled = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(tag);
        reject(new ReceiptNotSentError("no outcome for the receipt in time"));
      }, this.timeoutMs);
      this.pending.set(tag, { resolve, reject, timer });
    });
    sender.send(toReceiptAmqpMessage(id, body, traceHeaders), Buffer.from(tag));
    try {
      await settled;
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  }

  close(): void {
    this.connection.removeListener("disconnected", this.failAll);
    this.failAll();
    this.sender?.close();
    this.sender = undefined;
  }

  private async sendable(): Promise<Sender> {
    if (!this.connection.is_open()) throw new ReceiptNotSentError("broker not connected");
    if (this.sender === undefined || this.sender.is_closed()) {
      const sender = this.connection.open_sender({ target: { address: this.address }, autosettle: true });
      sender.on("accepted", (ctx: EventContext) => this.settle(ctx, undefined));
      sender.on("rejected", (ctx: EventContext) => this.settle(ctx, "rejected"));
      sender.on("released", (ctx: EventContext) => this.settle(ctx, "released"));
      sender.on("modified", (ctx: EventContext) => this.settle(ctx, "modified"));
      sender.on("sender_error", () => this.failAll());
      this.sender = sender;
    }
    const sender = this.sender;
    if (sender.sendable()) return sender;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        sender.removeListener("sendable", onSendable);
        reject(new ReceiptNotSentError("receipt link not ready"));
      }, this.timeoutMs);
      const onSendable = (): void => {
        clearTimeout(timer);
        resolve();
      };
      sender.once("sendable", onSendable);
    });
    return sender;
  }

  private settle(ctx: EventContext, failure: string | undefined): void {
    const tag = ctx.delivery?.tag;
    const key = Buffer.isBuffer(tag) ? tag.toString() : String(tag);
    const entry = this.pending.get(key);
    if (entry === undefined) return;
    this.pending.delete(key);
    clearTimeout(entry.timer);
    if (failure === undefined) entry.resolve();
    else entry.reject(new ReceiptNotSentError(`receipt ${failure} by the broker`));
  }

  private readonly failAll = (): void => {
    for (const [tag, entry] of this.pending) {
      clearTimeout(entry.timer);
      entry.reject(new ReceiptNotSentError("connection lost before the receipt was confirmed"));
      this.pending.delete(tag);
    }
  };
}
