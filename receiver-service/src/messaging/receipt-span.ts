import { context, propagation, SpanKind, trace, type Span } from "@opentelemetry/api";

const tracer = trace.getTracer("receiver-service");

/**
 * The PRODUCER span of a delivery receipt, started in the active context (the process span of the
 * batch's first message, where the batch's database work runs too), and its W3C context for the
 * receipt's application properties: the receipt joins that message's trace, and the sender's
 * receipt consumer continues it. `messages`: how many messages the receipt acknowledges.
 */
export function startReceiptSendSpan(
  address: string,
  receiptId: string,
  messages: number,
): { span: Span; traceHeaders: { traceparent?: string; tracestate?: string } } {
  const span = tracer.startSpan(`send ${address}`, {
    kind: SpanKind.PRODUCER,
    attributes: {
      "messaging.system": "activemq",
      "messaging.destination.name": address,
      "messaging.operation.type": "send",
      "messaging.operation.name": "send",
      "messaging.message.id": receiptId,
      "messaging.batch.message_count": messages,
    },
  });
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(context.active(), span), carrier);
  const traceHeaders: { traceparent?: string; tracestate?: string } = {};
  if (carrier.traceparent) traceHeaders.traceparent = carrier.traceparent;
  if (carrier.tracestate) traceHeaders.tracestate = carrier.tracestate;
  return { span, traceHeaders };
}
