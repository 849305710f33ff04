import { context, propagation, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readTraceHeaders, startProcessSpan, startReceiptSendSpan } from "@outbox/messaging";
import { endReceiptSpan, startReceiptSpan } from "../messaging/src/outbox/receipt-span.js";

// Issue 14's item: the delivery receipt's publish span (receiver) and consume span (sender) are in
// the same trace as the message, linked through the receipt's traceparent application property.
// Issue 13: one receipt per applied batch, sent in the batch's first message's process span; each
// span carries how many messages the receipt acknowledges.
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(() => {
  contextManager.enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
});

afterAll(async () => {
  await provider.shutdown();
  trace.disable();
  propagation.disable();
  context.disable();
});

describe("delivery receipt spans", () => {
  it("puts the receipt's send and process spans in the message's trace", async () => {
    // The message as the relay sends it: its traceparent is the relay's send span.
    const messageTraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const relaySendSpanId = "00f067aa0ba902b7";
    const message = {
      body: null,
      message_id: "0193a5b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b",
      application_properties: { traceparent: `00-${messageTraceId}-${relaySendSpanId}-01` },
    };
    // Receiver: the process span of the message, and within it the receipt's send span.
    // (The inbox consumer's spans, as @outbox/messaging starts them for the receiver.)
    const tracer = trace.getTracer("receipt-trace-test");
    const processSpan = startProcessSpan(
      tracer,
      readTraceHeaders(message),
      message.message_id,
      "entity-items.receiver",
      { "messaging.consumer.group.name": "receiver" },
    );
    const receipt = await context.with(processSpan.context, () => {
      const { span, traceHeaders } = startReceiptSendSpan(
        tracer,
        "delivery-receipts",
        "receipt:receiver:x",
        3,
      );
      span.end();
      return Promise.resolve({
        body: null,
        message_id: "receipt:receiver:x",
        application_properties: { ...traceHeaders },
      });
    });
    processSpan.span.end();
    expect(receipt.application_properties.traceparent).toMatch(new RegExp(`^00-${messageTraceId}-`));

    // Sender: the receipt's process span continues from the receipt's traceparent.
    const consumeSpan = startReceiptSpan(
      { messageId: receipt.message_id, trace: readTraceHeaders(receipt) },
      "delivery-receipts",
      3,
    );
    endReceiptSpan(consumeSpan);

    const spans = exporter.getFinishedSpans();
    const byName = new Map(spans.map((s) => [s.name, s]));
    const process = byName.get("process entity-items.receiver");
    const send = byName.get("send delivery-receipts");
    const consume = byName.get("process delivery-receipts");
    expect(new Set(spans.map((s) => s.spanContext().traceId))).toEqual(new Set([messageTraceId]));
    expect(process?.parentSpanContext?.spanId).toBe(relaySendSpanId);
    expect(send?.parentSpanContext?.spanId).toBe(process?.spanContext().spanId);
    expect(consume?.parentSpanContext?.spanId).toBe(send?.spanContext().spanId);
    expect(send?.kind).toBe(3); // PRODUCER
    expect(consume?.kind).toBe(4); // CONSUMER
    // Each side's span of the receipt says how many messages it acknowledges.
    expect(send?.attributes["messaging.batch.message_count"]).toBe(3);
    expect(consume?.attributes["messaging.batch.message_count"]).toBe(3);
  });
});
