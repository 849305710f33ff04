import {
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  trace,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from "@opentelemetry/api";
import type { Message } from "rhea";
import { readTraceHeaders, type TraceHeaders } from "../contracts/envelope.js";

/**
 * Starts the CONSUMER span of one received message (OpenTelemetry messaging conventions), child
 * of the producer's context carried in its `traceparent`/`tracestate` application properties.
 * Returns the span and the context it is active in (run database work there so its spans become
 * children). A no-op until an OpenTelemetry SDK is started.
 */
export function startConsumerSpan(
  tracer: Tracer,
  message: Message,
  queue: string,
  attributes: Attributes = {},
): { span: Span; context: Context } {
  const messageId = typeof message.message_id === "string" ? message.message_id : undefined;
  return startProcessSpan(tracer, readTraceHeaders(message), messageId, queue, attributes);
}

/**
 * The same span for a delivery a transport decoded (InboundMessage: its trace headers and message
 * id), on the source (queue, topic) it came from; attributes may override `messaging.system`.
 */
export function startProcessSpan(
  tracer: Tracer,
  traceHeaders: TraceHeaders,
  messageId: string | undefined,
  queue: string,
  attributes: Attributes = {},
): { span: Span; context: Context } {
  const parent = propagation.extract(ROOT_CONTEXT, traceHeaders);
  const span = tracer.startSpan(
    `process ${queue}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        "messaging.system": "activemq",
        "messaging.destination.name": queue,
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        ...attributes,
        ...(messageId !== undefined ? { "messaging.message.id": messageId } : {}),
      },
    },
    parent,
  );
  return { span, context: trace.setSpan(parent, span) };
}
