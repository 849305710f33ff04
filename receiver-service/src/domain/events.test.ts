import rhea, { type Message } from "rhea";
import { describe, expect, it } from "vitest";
import { entityEvents, type IncomingEvent } from "./events.js";

/**
 * The receiver's event types reading an AMQP message as the inbox consumer does (the envelope,
 * then the type's version and payload): the event, or why it is poison.
 */
function parseMessage(
  message: Message,
): { ok: true; event: IncomingEvent } | { ok: false; reason: string; messageId?: string } {
  const read = entityEvents.read(message);
  return read.ok ? { ok: true, event: read.message } : read;
}

const entityId = "0193a5b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b";
const outboxId = "0193a5b2-7c4d-7e8f-9a0b-aaaaaaaaaaaa";
const payload = { id: entityId, name: "Widget", description: null, createdAt: "2026-11-23T20:00:00.000Z" };
/** The v1 payload upcast to the current (v2) shape. */
const current = {
  item: { id: entityId, name: "Widget", description: null },
  createdAt: "2026-11-23T20:00:00.000Z",
};

/** A message exactly as the sender's relay builds it (see the message contract). */
function contractMessage(overrides: Partial<Message> = {}, body: unknown = payload): Message {
  return {
    message_id: outboxId,
    durable: true,
    subject: "EntityItemCreated",
    group_id: entityId,
    content_type: "application/json",
    creation_time: new Date(),
    application_properties: {
      _AMQ_DUPL_ID: outboxId,
      type: "EntityItemCreated",
      version: 1,
      aggregate_id: entityId,
    },
    body: rhea.message.data_section(Buffer.from(JSON.stringify(body))) as unknown,
    ...overrides,
  };
}

describe("parseMessage", () => {
  it("turns a contract message into a validated event", () => {
    const result = parseMessage(contractMessage());
    expect(result).toEqual({
      ok: true,
      event: {
        messageId: outboxId,
        type: "EntityItemCreated",
        version: 1,
        aggregateId: entityId,
        payload: current,
      },
    });
  });

  it("takes names and descriptions at the sender's limits in code points (200 and 2000 emoji)", () => {
    const name = "😀".repeat(200);
    const description = "😀".repeat(2000);
    const result = parseMessage(contractMessage({}, { ...payload, name, description }));
    expect(result).toMatchObject({ ok: true, event: { payload: { item: { name, description } } } });
    const tooLong = parseMessage(contractMessage({}, { ...payload, name: `${name}a` }));
    expect(tooLong).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/name: must be at most 200 characters/) as string,
    });
    const unpaired = parseMessage(contractMessage({}, { ...payload, description: "a\ud83d" }));
    expect(unpaired).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/description: contains U\+0000 or an unpaired/) as string,
    });
  });

  it("validates v2 with its own schema and keeps the version it came with", () => {
    const v2 = contractMessage(
      { application_properties: { type: "EntityItemCreated", version: 2, aggregate_id: entityId } },
      current,
    );
    expect(parseMessage(v2)).toMatchObject({ ok: true, event: { version: 2, payload: current } });
    const v1ShapeAsV2 = contractMessage(
      { application_properties: { type: "EntityItemCreated", version: 2, aggregate_id: entityId } },
      payload,
    );
    expect(parseMessage(v1ShapeAsV2)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/invalid EntityItemCreated@2/) as string,
    });
  });

  it("survives an AMQP encode/decode round trip", () => {
    // rhea's typings declare decode() with a different Message interface than the receiver's events.
    const decoded = rhea.message.decode(rhea.message.encode(contractMessage())) as unknown as Message;
    expect(parseMessage(decoded).ok).toBe(true);
  });

  it("accepts a string body, a multi-part data section and an amqp-value map", () => {
    expect(parseMessage(contractMessage({ body: JSON.stringify(payload) })).ok).toBe(true);
    const json = Buffer.from(JSON.stringify(payload));
    const parts = rhea.message.data_sections([json.subarray(0, 10), json.subarray(10)]) as unknown;
    expect(parseMessage(contractMessage({ body: parts })).ok).toBe(true);
    expect(parseMessage(contractMessage({ body: { ...payload } })).ok).toBe(true);
  });

  it("falls back to subject for the type and group_id for the aggregate", () => {
    const message = contractMessage({ application_properties: { version: 1 } });
    expect(parseMessage(message)).toMatchObject({
      ok: true,
      event: { type: "EntityItemCreated", aggregateId: entityId },
    });
  });

  it("trims the name and tolerates unknown payload fields", () => {
    const result = parseMessage(contractMessage({}, { ...payload, name: "  Widget  ", extra: 1 }));
    expect(result).toMatchObject({ ok: true, event: { payload: { item: { name: "Widget" } } } });
    expect(
      result.ok && result.event.type === "EntityItemCreated" && "extra" in result.event.payload.item,
    ).toBe(false);
  });

  const poison: [string, Message, RegExp][] = [
    ["no message id", contractMessage({ message_id: undefined }), /message_id/],
    ["numeric message id", contractMessage({ message_id: 42 }), /message_id/],
    [
      "no type at all",
      contractMessage({ subject: undefined, application_properties: { version: 1 } }),
      /type/,
    ],
    ["no version", contractMessage({ application_properties: { type: "EntityItemCreated" } }), /version/],
    [
      "unknown type",
      contractMessage({ application_properties: { type: "Other", version: 1 } }),
      /unknown event type Other \(supported: EntityItemCreated@1, EntityItemCreated@2, EntityItemUpdated@1\)/,
    ],
    [
      "unknown version",
      contractMessage({ application_properties: { type: "EntityItemCreated", version: 3 } }),
      /unknown event version EntityItemCreated@3/,
    ],
    [
      "malformed JSON",
      contractMessage({ body: rhea.message.data_section(Buffer.from("{nope")) as unknown }),
      /not valid JSON/,
    ],
    ["empty body", contractMessage({ body: undefined }), /empty body/],
    [
      "oversized body",
      contractMessage({}, { ...payload, description: "d".repeat(300 * 1024) }),
      /body too large/,
    ],
    ["numeric body", contractMessage({ body: 7 }), /unsupported body/],
    ["invalid id", contractMessage({}, { ...payload, id: "x" }), /id:/],
    ["blank name", contractMessage({}, { ...payload, name: "   " }), /name:/],
    ["long description", contractMessage({}, { ...payload, description: "d".repeat(2001) }), /description:/],
    ["bad createdAt", contractMessage({}, { ...payload, createdAt: "yesterday" }), /createdAt:/],
    ["payload is an array", contractMessage({}, [payload]), /invalid EntityItemCreated@1 payload/],
    [
      "aggregate id differs from payload id",
      contractMessage({
        application_properties: { type: "EntityItemCreated", version: 1, aggregate_id: outboxId },
      }),
      /does not match/,
    ],
  ];
  it.each(poison)("poison: %s", (_name, message, reason) => {
    const result = parseMessage(message);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(reason);
  });

  it("keeps the message id of a poison message for the failure record", () => {
    expect(parseMessage(contractMessage({ body: "{" }))).toMatchObject({ ok: false, messageId: outboxId });
  });

  it("accepts the version as a numeric string", () => {
    const message = contractMessage({ application_properties: { type: "EntityItemCreated", version: "1" } });
    expect(parseMessage(message).ok).toBe(true);
  });
});
