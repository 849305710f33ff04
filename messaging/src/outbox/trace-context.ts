import { context, propagation } from "@opentelemetry/api";
import type { OutboxHeaders } from "./tables.js";

/**
 * W3C trace context of the active span, captured when the outbox row is written so that the
 * relay (running later, in another async context) can continue the same trace. Empty when
 * no OpenTelemetry SDK is registered: the API's propagator is then a no-op.
 */
export function captureTraceHeaders(): OutboxHeaders {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  const headers: OutboxHeaders = {};
  if (carrier.traceparent) headers.traceparent = carrier.traceparent;
  if (carrier.tracestate) headers.tracestate = carrier.tracestate;
  return headers;
}
