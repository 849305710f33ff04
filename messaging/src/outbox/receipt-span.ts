import { context, SpanStatusCode, trace, type Span } from "@opentelemetry/api";
import { startProcessSpan } from "../telemetry/consumer-span.js";
import type { InboundMessage } from "../transport/transport.js";

const tracer = trace.getTracer("@outbox/messaging");

/**
 * The CONSUMER span of a delivery receipt, child of the receiver's publish span (its context
 * travels in the receipt's trace headers, as on every hop), so the receipt closes the message's
 * own trace: HTTP → relay send → receiver process → receipt send → receipt process. One span per
 * receipt message; `rows`: how many outbox rows it acknowledges (a batch receipt continues the
 * trace of its batch's first message). A no-op until the SDK is started.
 */
export function startReceiptSpan(
  receipt: Pick<InboundMessage<unknown>, "messageId" | "trace">,
  source: string,
  rows: number,
): Span {
  return startProcessSpan(tracer, receipt.trace, receipt.messageId, source, {
    "messaging.batch.message_count": rows,
  }).span;
}

export function endReceiptSpan(span: Span, error?: string): void {
  if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: error.slice(0, 500) });
  span.end();
}

/** Runs `work` with `span` active (database spans become its children). */
export function withSpan<T>(span: Span, work: () => Promise<T>): Promise<T> {
  return context.with(trace.setSpan(context.active(), span), work);
}
