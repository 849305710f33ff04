import rhea, { type Message } from "rhea";
import { describe, expect, it, vi } from "vitest";
import type { IncomingEvent } from "../domain/events.js";
import type { ApplyResult } from "../domain/inbox.js";
import { createBatchProcessor, type BatchItem } from "./process-batch.js";

function message(n: number, name = `item ${n}`): Message {
  const id = `0193a5b2-7c4d-7e8f-9a0b-${String(n).padStart(12, "0")}`;
  return {
    message_id: `m${n}`,
    group_id: id,
    application_properties: { type: "EntityItemCreated", version: 1 },
    body: rhea.message.data_section(
      Buffer.from(JSON.stringify({ id, name, description: null, createdAt: "2026-11-23T20:00:00Z" })),
    ) as unknown,
  };
}

const items = (messages: Message[]): BatchItem[] =>
  messages.map((m) => ({ message: m, run: (work) => work() }));
const dataError = (): Error => Object.assign(new Error("violates check constraint"), { code: "23514" });

describe("createBatchProcessor", () => {
  it("applies the valid deliveries in one call and rejects unparseable ones on their own", async () => {
    const applyBatch = vi.fn((events: readonly IncomingEvent[]) =>
      Promise.resolve(events.map((): ApplyResult => "applied")),
    );
    const apply = vi.fn(() => Promise.resolve<ApplyResult>("applied"));
    const process = createBatchProcessor({ apply, applyBatch });
    const { outcomes, fellBack } = await process(
      items([message(1), { ...message(2), body: "{nope" }, message(3)]),
    );
    expect(fellBack).toBe(false);
    expect(outcomes.map((o) => o.action)).toEqual(["accept", "reject", "accept"]);
    expect(applyBatch).toHaveBeenCalledOnce();
    expect(applyBatch.mock.calls[0]?.[0].map((e) => e.messageId)).toEqual(["m1", "m3"]);
    expect(apply).not.toHaveBeenCalled();
  });

  it("falls back to one at a time, in order, when the batch fails: only the failing message fails", async () => {
    const applied: string[] = [];
    const onFallback = vi.fn();
    const process = createBatchProcessor({
      applyBatch: () => Promise.reject(dataError()),
      apply: (event) => {
        if (event.type === "EntityItemCreated" && event.payload.item.name === "refuse-me") {
          return Promise.reject(dataError());
        }
        applied.push(event.messageId);
        return Promise.resolve("applied");
      },
      onFallback,
    });
    const { outcomes, fellBack } = await process(
      items([message(1), message(2), message(3, "refuse-me"), message(4)]),
    );
    expect(fellBack).toBe(true);
    expect(onFallback).toHaveBeenCalledWith(4, expect.any(Error));
    expect(outcomes.map((o) => o.action)).toEqual(["accept", "accept", "reject", "accept"]);
    expect(applied).toEqual(["m1", "m2", "m4"]);
  });

  it("falls back when the batch returns the wrong number of results", async () => {
    const apply = vi.fn(() => Promise.resolve<ApplyResult>("duplicate"));
    const process = createBatchProcessor({ applyBatch: () => Promise.resolve(["applied"]), apply });
    const { outcomes, fellBack } = await process(items([message(1), message(2)]));
    expect(fellBack).toBe(true);
    expect(apply).toHaveBeenCalledTimes(2);
    expect(outcomes).toMatchObject([{ result: "duplicate" }, { result: "duplicate" }]);
  });

  it("runs every follow-up (receipt) after the commit; one that fails retries only its own message", async () => {
    const afterApply = vi.fn((event: IncomingEvent, result: ApplyResult) =>
      event.messageId === "m2" ? Promise.reject(new Error("broker gone")) : Promise.resolve(void result),
    );
    const process = createBatchProcessor({
      applyBatch: (events) => Promise.resolve(events.map((): ApplyResult => "duplicate")),
      apply: () => Promise.resolve("applied"),
      afterApply,
    });
    const { outcomes } = await process(items([message(1), message(2), message(3)]));
    expect(afterApply).toHaveBeenCalledTimes(3);
    expect(outcomes.map((o) => o.action)).toEqual(["accept", "retry", "accept"]);
    expect(outcomes[1]).toMatchObject({ reason: /applied, but the follow-up failed: broker gone/ });
  });
});
