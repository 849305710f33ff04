import type { DeadLetter, DeadLetterQueue } from "@outbox/messaging";
import { createLogger, ServiceHost } from "@outbox/service-defaults";
import { describe, expect, it } from "vitest";
import type { Database } from "../data/db.js";
import type { DeadLetterApplyState } from "../data/queries.js";
import { entityEventOf, gapRefusal, type DeadEntityEvent } from "./dead-letter-delete-guard.js";
import { registerDeadLetterRoutes } from "./dead-letter-routes.js";

const ENTITY = "0193a5b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b";

function letter(overrides: Partial<DeadLetter> = {}): DeadLetter {
  return {
    id: 42,
    messageId: "m-1",
    type: "EntityItemUpdated",
    version: 1,
    groupId: ENTITY,
    correlationId: undefined,
    originalAddress: "entity-items.audit",
    originalQueue: "entity-items.audit",
    properties: { aggregate_id: ENTITY },
    ...overrides,
  };
}

const update: DeadEntityEvent = { type: "EntityItemUpdated", aggregateId: ENTITY, messageId: "m-1" };
const creation: DeadEntityEvent = { ...update, type: "EntityItemCreated" };
const notApplied: DeadLetterApplyState = { applied: false, appliedVersion: 2, lastFailureKind: "transient" };

describe("entityEventOf", () => {
  it("reads type, aggregate and message id from the listed properties", () => {
    expect(entityEventOf(letter())).toEqual(update);
    // The AMQP group id stands in for a missing aggregate_id property, as in the parser.
    expect(entityEventOf(letter({ properties: {} }))).toEqual(update);
  });

  it("is none for a message no group can apply to an entity", () => {
    expect(entityEventOf(letter({ type: "SomethingElse" }))).toBeUndefined();
    expect(entityEventOf(letter({ type: undefined }))).toBeUndefined();
    expect(entityEventOf(letter({ messageId: undefined }))).toBeUndefined();
    expect(entityEventOf(letter({ properties: { aggregate_id: "not-a-uuid" } }))).toBeUndefined();
    expect(entityEventOf(letter({ properties: {}, groupId: undefined }))).toBeUndefined();
  });
});

describe("gapRefusal", () => {
  it("refuses an update the group has not processed, naming group, aggregate, versions and replay", () => {
    const refusal = gapRefusal("audit", 42, update, notApplied);
    expect(refusal?.status).toBe(409);
    expect(refusal?.extra).toEqual({
      group: "audit",
      aggregateId: ENTITY,
      messageId: "m-1",
      eventType: "EntityItemUpdated",
      version: null,
      appliedVersion: 2,
      replay: "/api/DeadLetters/42/replay?group=audit",
    });
    expect(refusal?.detail).toContain("waits for version 3");
  });

  it("lets a duplicate, a poison message and a creation of a held entity go", () => {
    expect(gapRefusal("receiver", 42, update, { ...notApplied, applied: true })).toBeUndefined();
    expect(gapRefusal("receiver", 42, update, { ...notApplied, lastFailureKind: "poison" })).toBeUndefined();
    expect(gapRefusal("receiver", 42, creation, { ...notApplied, appliedVersion: 1 })).toBeUndefined();
  });

  it("refuses a creation of an entity the group does not hold (version 1)", () => {
    const refusal = gapRefusal("receiver", 7, creation, { ...notApplied, appliedVersion: undefined });
    expect(refusal?.extra).toMatchObject({ version: 1, appliedVersion: null });
    expect(refusal?.detail).toContain("has applied no version of it yet");
  });
});

describe("the receiver's OpenAPI document", () => {
  it("documents DELETE's 409 with the group, aggregate, versions and replay route", async () => {
    const host = new ServiceHost({
      name: "receiver-service",
      version: "0.0.0",
      logger: createLogger("test", "silent"),
      port: 0,
      handleSignals: false,
    });
    try {
      const never = <T extends object>(): T => ({}) as T;
      registerDeadLetterRoutes(host, never<Database>(), {
        byGroup: new Map([["receiver", never<DeadLetterQueue>()]]),
        defaultGroup: "receiver",
      });
      const { url } = await host.start();
      const document = (await (await fetch(`${url}/openapi.json`)).json()) as {
        paths: Record<
          string,
          { delete?: { responses: Record<string, { content?: Record<string, unknown> }> } }
        >;
        components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
      };
      const conflict = document.paths["/api/DeadLetters/{id}"]?.delete?.responses["409"];
      expect(JSON.stringify(conflict?.content?.["application/problem+json"])).toContain(
        "DeadLetterDeleteWouldLeaveGapProblem",
      );
      const schema = document.components.schemas["DeadLetterDeleteWouldLeaveGapProblem"];
      expect(Object.keys(schema?.properties ?? {})).toEqual(
        expect.arrayContaining(["group", "aggregateId", "version", "appliedVersion", "replay"]),
      );
    } finally {
      await host.stop();
    }
  });
});
