import {
  context,
  propagation,
  SpanKind,
  trace,
  type Attributes,
  type Span,
  type Tracer,
} from "@opentelemetry/api";
import type { TraceHeaders } from "../contracts/envelope.js";

/**
 * The PRODUCER span of a delivery receipt, started in the active context (the process span of the
 * batch's first message, where the batch's database work runs too), and its W3C context for the
 * receipt's headers: the receipt joins that message's trace, and the producer's receipt consumer
 * continues it. `messages`: how many messages the receipt acknowledges.
 */
export function startReceiptSendSpan(
  tracer: Tracer,
  destination: string,
  receiptId: string,
  messages: number,
  attributes: Attributes = {},
): { span: Span; traceHeaders: TraceHeaders } {
  const span = tracer.startSpan(`send ${destination}`, {
    kind: SpanKind.PRODUCER,
    attributes: {
      "messaging.system": "activemq",
      "messaging.destination.name": destination,
      "messaging.operation.type": "send",
      "messaging.operation.name": "send",
      ...attributes,
      "messaging.message.id": receiptId,
      "messaging.batch.message_count": messages,
    },
  });
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(context.active(), span), carrier);
  const traceHeaders: TraceHeaders = {};
  if (carrier.traceparent) traceHeaders.traceparent = carrier.traceparent;
  if (carrier.tracestate) traceHeaders.tracestate = carrier.tracestate;
  return { span, traceHeaders };
}
