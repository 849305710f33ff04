import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Span,
} from "@opentelemetry/api";
import { readTraceHeaders } from "@outbox/messaging";
import type { Message } from "rhea";

const tracer = trace.getTracer("sender-service");

/**
 * The CONSUMER span of a delivery receipt, child of the receiver's publish span (its context
 * travels in the receipt's `traceparent`/`tracestate` application properties, as on every hop), so
 * the receipt closes the message's own trace: HTTP → relay send → receiver process → receipt send →
 * receipt process. One span per receipt message; `rows`: how many outbox rows it acknowledges (a
 * batch receipt continues the trace of its batch's first message). A no-op until the SDK is started.
 */
export function startReceiptSpan(message: Message, queue: string, rows: number): Span {
  const parent = propagation.extract(ROOT_CONTEXT, readTraceHeaders(message));
  const messageId = typeof message.message_id === "string" ? message.message_id : undefined;
  return tracer.startSpan(
    `process ${queue}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        "messaging.system": "activemq",
        "messaging.destination.name": queue,
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.batch.message_count": rows,
        ...(messageId !== undefined ? { "messaging.message.id": messageId } : {}),
      },
    },
    parent,
  );
}

export function endReceiptSpan(span: Span, error?: string): void {
  if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: error.slice(0, 500) });
  span.end();
}

/** Runs `work` with `span` active (database spans become its children). */
export function withSpan<T>(span: Span, work: () => Promise<T>): Promise<T> {
  return context.with(trace.setSpan(context.active(), span), work);
}
