import { context, SpanStatusCode, trace, type Span } from "@opentelemetry/api";
import { startConsumerSpan } from "@outbox/messaging";
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
  const { span, context: active } = startConsumerSpan(
    tracer,
    message,
    queue,
    group !== undefined ? { "messaging.consumer.group.name": group } : {},
  );
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
