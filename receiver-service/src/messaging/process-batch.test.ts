import rhea, { type Message } from "rhea";
import { describe, expect, it, vi } from "vitest";
import type { IncomingEvent } from "../domain/events.js";
import { VersionGapError } from "../domain/apply-entity-item-updated.js";
import type { ApplyResult, BatchApplyResult } from "../domain/inbox.js";
import { createBatchProcessor, type BatchItem } from "./process-batch.js";
import type { AppliedMessage } from "./receipt-batch.js";

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

  it("retries a version gap on its own, without a fallback and without pausing the consumer", async () => {
    const apply = vi.fn(() => Promise.resolve<ApplyResult>("applied"));
    const onFallback = vi.fn();
    const process = createBatchProcessor({
      apply,
      onFallback,
      applyBatch: (events) =>
        Promise.resolve(
          events.map((e, i): BatchApplyResult =>
            i === 1 ? new VersionGapError(e.aggregateId, 1, 3) : "applied",
          ),
        ),
    });
    const { outcomes, fellBack } = await process(items([message(1), message(2), message(3)]));
    expect(fellBack).toBe(false);
    expect(onFallback).not.toHaveBeenCalled();
    expect(apply).not.toHaveBeenCalled();
    expect(outcomes.map((o) => o.action)).toEqual(["accept", "retry", "accept"]);
    expect(outcomes[1]).toMatchObject({ action: "retry", messageId: "m2" });
    expect(outcomes[1]).not.toHaveProperty("databaseUnavailable");
    expect(outcomes[1]?.action === "retry" && outcomes[1].reason).toMatch(/^version gap/);
  });

  it("retries the whole batch at once when the database is unreachable, and asks for a pause", async () => {
    const apply = vi.fn(() => Promise.resolve<ApplyResult>("applied"));
    const onFallback = vi.fn();
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
    const process = createBatchProcessor({ apply, onFallback, applyBatch: () => Promise.reject(refused) });
    const { outcomes, fellBack } = await process(
      items([message(1), { ...message(2), body: "{nope" }, message(3)]),
    );
    // One at a time would only fail against the same unreachable database, once per message.
    expect(fellBack).toBe(false);
    expect(apply).not.toHaveBeenCalled();
    expect(onFallback).not.toHaveBeenCalled();
    expect(outcomes).toMatchObject([
      { action: "retry", messageId: "m1", databaseUnavailable: true },
      { action: "reject" },
      { action: "retry", messageId: "m3", databaseUnavailable: true },
    ]);
  });

  it("does not ask for a pause when a data error fails one message after the fallback", async () => {
    const process = createBatchProcessor({
      applyBatch: () => Promise.reject(new Error("unexpected")),
      apply: () => Promise.reject(new Error("some bug")),
    });
    const { outcomes, fellBack } = await process(items([message(1)]));
    expect(fellBack).toBe(true);
    expect(outcomes).toEqual([{ action: "retry", reason: "some bug", messageId: "m1" }]);
  });

  it("falls back when the batch returns the wrong number of results", async () => {
    const apply = vi.fn(() => Promise.resolve<ApplyResult>("duplicate"));
    const process = createBatchProcessor({ applyBatch: () => Promise.resolve(["applied"]), apply });
    const { outcomes, fellBack } = await process(items([message(1), message(2)]));
    expect(fellBack).toBe(true);
    expect(apply).toHaveBeenCalledTimes(2);
    expect(outcomes).toMatchObject([{ result: "duplicate" }, { result: "duplicate" }]);
  });

  it("runs the follow-up (one receipt) once for every committed message of the batch", async () => {
    const afterApply = vi.fn((applied: readonly AppliedMessage[]) => Promise.resolve(void applied));
    const process = createBatchProcessor({
      applyBatch: (events) =>
        Promise.resolve(events.map((_, i): ApplyResult => (i === 1 ? "duplicate" : "applied"))),
      apply: () => Promise.resolve("applied"),
      afterApply,
    });
    const { outcomes } = await process(
      items([message(1), { ...message(2), body: "{nope" }, message(3), message(4)]),
    );
    expect(outcomes.map((o) => o.action)).toEqual(["accept", "reject", "accept", "accept"]);
    expect(afterApply).toHaveBeenCalledOnce();
    expect(afterApply.mock.calls[0]?.[0].map((a) => [a.event.messageId, a.result])).toEqual([
      ["m1", "applied"],
      ["m3", "duplicate"],
      ["m4", "applied"],
    ]);
  });

  it("retries every committed message of the batch when its receipt fails", async () => {
    const process = createBatchProcessor({
      applyBatch: (events) => Promise.resolve(events.map((): ApplyResult => "applied")),
      apply: () => Promise.resolve("applied"),
      afterApply: () => Promise.reject(new Error("broker gone")),
    });
    const { outcomes } = await process(items([message(1), message(2), message(3)]));
    expect(outcomes.map((o) => o.action)).toEqual(["retry", "retry", "retry"]);
    expect(outcomes[1]).toMatchObject({
      messageId: "m2",
      reason: expect.stringMatching(/applied, but the follow-up failed: broker gone/) as string,
    });
  });

  it("after a fallback, sends one receipt for the messages that committed one at a time", async () => {
    const afterApply = vi.fn((applied: readonly AppliedMessage[]) => Promise.resolve(void applied));
    const process = createBatchProcessor({
      applyBatch: () => Promise.reject(dataError()),
      apply: (event) =>
        event.type === "EntityItemCreated" && event.payload.item.name === "refuse-me"
          ? Promise.reject(dataError())
          : Promise.resolve("applied"),
      afterApply,
    });
    const { outcomes } = await process(items([message(1), message(2, "refuse-me"), message(3)]));
    expect(outcomes.map((o) => o.action)).toEqual(["accept", "reject", "accept"]);
    expect(afterApply).toHaveBeenCalledOnce();
    expect(afterApply.mock.calls[0]?.[0].map((a) => a.event.messageId)).toEqual(["m1", "m3"]);
  });

  it("sends no receipt when nothing committed", async () => {
    const afterApply = vi.fn(() => Promise.resolve());
    const process = createBatchProcessor({
      applyBatch: () => Promise.reject(dataError()),
      apply: () => Promise.reject(dataError()),
      afterApply,
    });
    const { outcomes } = await process(items([message(1), message(2)]));
    expect(outcomes.map((o) => o.action)).toEqual(["reject", "reject"]);
    expect(afterApply).not.toHaveBeenCalled();
  });
});
