import { describe, expect, it } from "vitest";
import { planSettlement } from "./settlement-plan.js";
import type { PublishOutcome } from "../transport/transport.js";

const policy = { minMs: 1_000, maxMs: 60_000 };
const top = () => 0.999999;
const rows = (n: number, attempts = 0) => Array.from({ length: n }, (_, i) => ({ id: `id-${i}`, attempts }));

describe("planSettlement", () => {
  it("publishes accepted rows only", () => {
    const plan = planSettlement(rows(2), [{ kind: "accepted" }, { kind: "accepted" }], policy, top);
    expect(plan).toEqual({
      publish: ["id-0", "id-1"],
      release: [],
      releaseUnsent: [],
      retry: [],
      unknownReason: undefined,
    });
  });

  it("releases rows whose outcome is unknown, without counting an attempt, and keeps the first reason", () => {
    const outcomes: PublishOutcome[] = [
      { kind: "accepted" },
      { kind: "unknown", reason: "connection lost" },
      { kind: "unknown", reason: "not sent" },
    ];
    const plan = planSettlement(rows(3), outcomes, policy, top);
    expect(plan.publish).toEqual(["id-0"]);
    expect(plan.release).toEqual(["id-1", "id-2"]);
    expect(plan.retry).toEqual([]);
    expect(plan.unknownReason).toBe("connection lost");
  });

  it("retries rejected rows with an attempt counted and a backoff that grows with attempts", () => {
    const outcome: PublishOutcome = { kind: "rejected", reason: "amqp:not-allowed: nope" };
    const first = planSettlement(rows(1, 0), [outcome], policy, top).retry[0];
    const fourth = planSettlement(rows(1, 3), [outcome], policy, top).retry[0];
    expect(first).toEqual({
      id: "id-0",
      outcome: "rejected",
      error: "rejected by broker: amqp:not-allowed: nope",
      countAttempt: true,
      delayMs: 1_000,
    });
    expect(fourth?.delayMs).toBe(8_000);
  });

  it("retries released and plain modified rows without counting, counts delivery-failed ones", () => {
    const outcomes: PublishOutcome[] = [
      { kind: "released" },
      { kind: "modified", deliveryFailed: false, undeliverableHere: false },
      { kind: "modified", deliveryFailed: true, undeliverableHere: false },
    ];
    const plan = planSettlement(rows(3), outcomes, policy, top);
    expect(plan.retry.map((r) => [r.error, r.countAttempt])).toEqual([
      ["released by broker", false],
      ["modified by broker", false],
      ["modified by broker (delivery-failed)", true],
    ]);
    expect(plan.publish).toEqual([]);
    expect(plan.release).toEqual([]);
  });

  it("accounts for every row exactly once", () => {
    const kinds: PublishOutcome[] = [
      { kind: "accepted" },
      { kind: "unknown", reason: "x" },
      { kind: "rejected", reason: "y" },
      { kind: "released" },
    ];
    const outcomes = Array.from({ length: 40 }, (_, i) => kinds[i % kinds.length] as PublishOutcome);
    const plan = planSettlement(rows(40), outcomes, policy);
    const ids = [...plan.publish, ...plan.release, ...plan.retry.map((r) => r.id)].sort();
    expect(ids).toEqual(
      rows(40)
        .map((r) => r.id)
        .sort(),
    );
  });

  it("refuses mismatched inputs", () => {
    expect(() => planSettlement(rows(2), [{ kind: "accepted" }], policy)).toThrow(/2 rows but 1 outcomes/);
  });
});
