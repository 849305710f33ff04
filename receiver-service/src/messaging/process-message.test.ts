import rhea, { type Message } from "rhea";
import { describe, expect, it, vi } from "vitest";
import { VersionGapError } from "../domain/apply-entity-item-updated.js";
import { createMessageProcessor } from "./process-message.js";

const entityId = "0193a5b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b";
const message: Message = {
  message_id: "0193a5b2-7c4d-7e8f-9a0b-aaaaaaaaaaaa",
  group_id: entityId,
  application_properties: { type: "EntityItemCreated", version: 1, aggregate_id: entityId },
  body: rhea.message.data_section(
    Buffer.from(
      JSON.stringify({ id: entityId, name: "W", description: null, createdAt: "2026-11-23T20:00:00Z" }),
    ),
  ) as unknown,
};

describe("createMessageProcessor", () => {
  it("accepts after apply and the follow-up (the receipt) both succeeded", async () => {
    const afterApply = vi.fn(() => Promise.resolve());
    const process = createMessageProcessor({ apply: () => Promise.resolve("applied"), afterApply });
    expect(await process(message)).toMatchObject({ action: "accept", result: "applied" });
    expect(afterApply).toHaveBeenCalledOnce();
  });

  it("retries when the receipt could not be sent, even though the effect committed", async () => {
    const process = createMessageProcessor({
      apply: () => Promise.resolve("applied"),
      afterApply: () => Promise.reject(new Error("broker gone")),
    });
    expect(await process(message)).toMatchObject({
      action: "retry",
      reason: expect.stringMatching(/broker gone/) as string,
    });
  });

  it("sends the receipt again for a duplicate (the redelivery of a message whose receipt was lost)", async () => {
    const afterApply = vi.fn(() => Promise.resolve());
    const process = createMessageProcessor({ apply: () => Promise.resolve("duplicate"), afterApply });
    expect(await process(message)).toMatchObject({ action: "accept", result: "duplicate" });
    expect(afterApply).toHaveBeenCalledWith([expect.objectContaining({ result: "duplicate" })]);
  });

  it("rejects poison without applying and retries transient errors", async () => {
    const apply = vi.fn(() => Promise.resolve("applied" as const));
    const process = createMessageProcessor({ apply });
    expect(await process({ ...message, body: "{nope" })).toMatchObject({ action: "reject" });
    expect(apply).not.toHaveBeenCalled();
    const failing = createMessageProcessor({
      apply: () => Promise.reject(Object.assign(new Error("connection refused"), { code: "ECONNREFUSED" })),
    });
    expect(await failing(message)).toMatchObject({ action: "retry" });
  });

  it("asks for a pause only when the database is unreachable, not for a gap or a failed receipt", async () => {
    const unreachable = createMessageProcessor({
      apply: () =>
        Promise.reject(Object.assign(new Error("the database is shutting down"), { code: "57P01" })),
    });
    expect(await unreachable(message)).toMatchObject({ action: "retry", databaseUnavailable: true });
    const gap = createMessageProcessor({ apply: () => Promise.reject(new VersionGapError(entityId, 1, 3)) });
    const receipt = createMessageProcessor({
      apply: () => Promise.resolve("applied"),
      afterApply: () => Promise.reject(new Error("broker gone")),
    });
    for (const outcome of [await gap(message), await receipt(message)]) {
      expect(outcome).toMatchObject({ action: "retry" });
      expect(outcome).not.toHaveProperty("databaseUnavailable");
    }
  });
});
