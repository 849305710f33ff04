import rhea from "rhea";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { toAmqpEnvelope, type IncomingEnvelope } from "../contracts/envelope.js";
import {
  defineMessageTypes,
  HandlerRegistry,
  messageVersion,
  type DecodeResult,
  type MessageOfTypes,
} from "./handler-registry.js";

const orderPlacedV1 = z.object({ id: z.string(), total: z.number() });
const orderPlacedV2 = z.object({ order: z.object({ id: z.string(), totalCents: z.number().int() }) });
type OrderPlaced = z.infer<typeof orderPlacedV2>;

const types = defineMessageTypes(
  {
    OrderPlaced: {
      1: messageVersion(orderPlacedV1, (p): OrderPlaced => ({
        order: { id: p.id, totalCents: p.total * 100 },
      })),
      2: messageVersion(orderPlacedV2),
    },
    OrderCancelled: { 1: messageVersion(z.object({ id: z.string() })) },
  },
  {
    OrderPlaced: (m) => (m.payload.order.id === m.aggregateId ? undefined : "aggregate id mismatch"),
  },
);
type OrderEvent = MessageOfTypes<typeof types>;

function envelope(type: string, version: number, payload: unknown): IncomingEnvelope {
  return { messageId: "m-1", type, version, aggregateId: "o-1", payload };
}

/** The reason of a poison result (a regex in toMatchObject would match any string). */
function reasonOf(result: DecodeResult<unknown>): string {
  if (result.ok) throw new Error("expected poison, got a decoded message");
  return result.reason;
}

/** A transaction stand-in: what the handlers did, in order. */
interface Tx {
  log: string[];
}

describe("MessageTypes.decode", () => {
  it("looks the type and version up and upcasts the payload to the handler's shape", () => {
    expect(types.decode(envelope("OrderPlaced", 1, { id: "o-1", total: 2.5 }))).toEqual({
      ok: true,
      message: {
        messageId: "m-1",
        type: "OrderPlaced",
        version: 1,
        aggregateId: "o-1",
        payload: { order: { id: "o-1", totalCents: 250 } },
      },
    });
    const v2 = { order: { id: "o-1", totalCents: 7 } };
    expect(types.decode(envelope("OrderPlaced", 2, v2))).toMatchObject({
      ok: true,
      message: { version: 2, payload: v2 },
    });
  });

  it("makes an unknown type poison, with the supported (type, version) pairs in the reason", () => {
    expect(types.supported).toBe("OrderPlaced@1, OrderPlaced@2, OrderCancelled@1");
    expect(types.decode(envelope("OrderShipped", 1, {}))).toEqual({
      ok: false,
      messageId: "m-1",
      reason: "unknown event type OrderShipped (supported: OrderPlaced@1, OrderPlaced@2, OrderCancelled@1)",
    });
    // Inherited object keys are not types.
    expect(reasonOf(types.decode(envelope("constructor", 1, {})))).toMatch(
      /^unknown event type constructor /,
    );
  });

  it("makes an unsupported version poison", () => {
    expect(types.decode(envelope("OrderCancelled", 2, { id: "o-1" }))).toEqual({
      ok: false,
      messageId: "m-1",
      reason:
        "unknown event version OrderCancelled@2 (supported: OrderPlaced@1, OrderPlaced@2, OrderCancelled@1)",
    });
  });

  it("makes an invalid payload poison with its schema's issues, and runs the type's check", () => {
    expect(
      reasonOf(types.decode(envelope("OrderPlaced", 2, { order: { id: "o-1", totalCents: 1.5 } }))),
    ).toMatch(/^invalid OrderPlaced@2 payload: order\.totalCents: /);
    expect(reasonOf(types.decode(envelope("OrderCancelled", 1, "nope")))).toMatch(
      /^invalid OrderCancelled@1 payload: \(payload\): /,
    );
    expect(types.decode(envelope("OrderPlaced", 1, { id: "o-2", total: 1 }))).toEqual({
      ok: false,
      messageId: "m-1",
      reason: "aggregate id mismatch",
    });
  });

  it("makes a payload whose upcaster or check throws poison instead of throwing", () => {
    const fragile = defineMessageTypes(
      {
        A: {
          1: messageVersion(z.object({ n: z.number() }), (p) => {
            if (p.n < 0) throw new Error("negative");
            return p;
          }),
        },
      },
      {
        A: (m) => {
          if (m.payload.n === 0) throw new Error("zero");
          return undefined;
        },
      },
    );
    expect(fragile.decode(envelope("A", 1, { n: -1 }))).toEqual({
      ok: false,
      messageId: "m-1",
      reason: "could not read A@1 payload: negative",
    });
    expect(fragile.decode(envelope("A", 1, { n: 0 }))).toEqual({
      ok: false,
      messageId: "m-1",
      reason: "check of A@1 failed: zero",
    });
    expect(fragile.decode(envelope("A", 1, { n: 1 }))).toMatchObject({ ok: true });
  });

  it("reads an AMQP message through the envelope contract first", () => {
    const amqp = toAmqpEnvelope({
      id: "m-9",
      type: "OrderCancelled",
      version: 1,
      aggregateId: "o-1",
      payload: { id: "o-1" },
      createdAt: new Date(),
      ordered: true,
      priority: 4,
      deliverAt: null,
      trace: {},
    });
    const decoded = rhea.message.decode(rhea.message.encode(amqp)) as unknown as typeof amqp;
    expect(types.read(decoded)).toMatchObject({
      ok: true,
      message: { messageId: "m-9", type: "OrderCancelled" },
    });
    expect(types.read({ ...amqp, message_id: undefined })).toEqual({
      ok: false,
      reason: "missing or invalid message_id",
    });
  });

  it("refuses a declaration it could never dispatch", () => {
    expect(() => defineMessageTypes({ A: {} })).toThrow("message type A: declare at least one version");
    expect(() => defineMessageTypes({ A: { 0: messageVersion(z.string()) } })).toThrow(
      "message type A: version 0 is not a positive integer",
    );
    expect(() =>
      defineMessageTypes({ A: { 1: messageVersion(z.string()) } }, { B: () => undefined } as never),
    ).toThrow("message checks for undeclared types: B");
  });
});

describe("HandlerRegistry", () => {
  const registry = types.registry<Tx, string, { attempt: number }>({
    OrderPlaced: (m, tx, context) => {
      tx.log.push(`placed ${m.payload.order.totalCents} (v${m.version}, attempt ${context.attempt})`);
      return "placed";
    },
    OrderCancelled: async (m, tx) => {
      await Promise.resolve();
      tx.log.push(`cancelled ${m.payload.id}`);
      return "cancelled";
    },
  });

  function decoded(type: string, version: number, payload: unknown): OrderEvent {
    const result = types.decode(envelope(type, version, payload));
    if (!result.ok) throw new Error(result.reason);
    return result.message;
  }

  it("runs the handler of the message's type with the service's transaction and context", async () => {
    const tx: Tx = { log: [] };
    expect(
      await registry.handle(decoded("OrderPlaced", 1, { id: "o-1", total: 3 }), tx, { attempt: 2 }),
    ).toBe("placed");
    expect(await registry.handle(decoded("OrderCancelled", 1, { id: "o-1" }), tx, { attempt: 1 })).toBe(
      "cancelled",
    );
    expect(tx.log).toEqual(["placed 300 (v1, attempt 2)", "cancelled o-1"]);
  });

  it("rethrows a handler's error unchanged, so the service can classify it and roll back", async () => {
    class Transient extends Error {}
    const failure = new Transient("lock timeout");
    const failing = types.registry<Tx, string>({
      OrderPlaced: () => {
        throw failure;
      },
      OrderCancelled: () => Promise.reject(failure),
    });
    const tx: Tx = { log: [] };
    await expect(
      failing.handle(decoded("OrderPlaced", 2, { order: { id: "o-1", totalCents: 1 } }), tx),
    ).rejects.toBe(failure);
    await expect(failing.handle(decoded("OrderCancelled", 1, { id: "o-1" }), tx)).rejects.toBe(failure);
    // The other registry is untouched by the failures.
    expect(await registry.handle(decoded("OrderCancelled", 1, { id: "o-1" }), tx, { attempt: 1 })).toBe(
      "cancelled",
    );
  });

  it("throws for a message of a type it has no handler for (a message not decoded by its types)", async () => {
    const stray = {
      ...decoded("OrderCancelled", 1, { id: "o-1" }),
      type: "OrderShipped",
    } as unknown as OrderEvent;
    await expect(registry.handle(stray, { log: [] }, { attempt: 1 })).rejects.toThrow(
      "no handler for message type OrderShipped",
    );
  });

  it("needs a handler for every declared type, and none for an undeclared one", () => {
    const onlyPlaced = { OrderPlaced: () => "placed" } as never;
    expect(() => new HandlerRegistry(types, onlyPlaced)).toThrow(
      "no handler for message types: OrderCancelled",
    );
    const extra = { OrderPlaced: () => "", OrderCancelled: () => "", OrderShipped: () => "" } as never;
    expect(() => new HandlerRegistry(types, extra)).toThrow(
      "handlers for undeclared message types: OrderShipped",
    );
    const notAFunction = { OrderPlaced: () => "", OrderCancelled: "cancel" } as never;
    expect(() => new HandlerRegistry(types, notAFunction)).toThrow(
      "the handler for OrderCancelled is not a function",
    );
  });
});
