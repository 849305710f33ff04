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
import type { Outcome } from "./process-message.js";

const tracer = trace.getTracer("receiver-service");

export interface ProcessSpan {
  span: Span;
  /** Runs work with the span active, so database spans become its children. */
  run<T>(work: () => Promise<T>): Promise<T>;
}

/**
 * One CONSUMER span per delivery (OpenTelemetry messaging conventions), child of the producer's
 * context carried in the `traceparent`/`tracestate` application properties. A no-op until the
 * SDK is started (OTEL_EXPORTER_OTLP_ENDPOINT).
 */
export function startProcessSpan(message: Message, queue: string, group: string | undefined): ProcessSpan {
  const parent = propagation.extract(ROOT_CONTEXT, readTraceHeaders(message));
  const messageId = typeof message.message_id === "string" ? message.message_id : undefined;
  const span = tracer.startSpan(
    `process ${queue}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        "messaging.system": "activemq",
        "messaging.destination.name": queue,
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        ...(messageId !== undefined ? { "messaging.message.id": messageId } : {}),
        ...(group !== undefined ? { "messaging.consumer.group.name": group } : {}),
      },
    },
    parent,
  );
  const active = trace.setSpan(parent, span);
  return { span, run: (work) => context.with(active, work) };
}

export function endProcessSpan({ span }: ProcessSpan, outcome: Outcome): void {
  if (outcome.action === "accept") {
    if (outcome.result !== "applied") span.addEvent(`duplicate: ${outcome.result}`);
  } else {
    span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.reason.slice(0, 500) });
    span.setAttribute("messaging.outcome", outcome.action);
  }
  span.end();
}
