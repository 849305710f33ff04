import { backoffDelayMs, type BackoffPolicy } from "./backoff.js";
import type { PublishOutcome } from "../transport/transport.js";

export interface RetryPlan {
  id: string;
  error: string;
  delayMs: number;
  countAttempt: boolean;
  /** What the broker answered. */
  outcome: "rejected" | "released" | "modified";
}

/** What to write back to the outbox after a batch. */
export interface SettlementPlan {
  /** Accepted by the broker: mark published. */
  publish: string[];
  /** Outcome unknown: give back the claim, due at once, no attempt counted. */
  release: string[];
  /** Never handed to the broker (stopping, link gone before the send): give back the claim. */
  releaseUnsent: string[];
  /** Refused by the broker: retry after a backoff. */
  retry: RetryPlan[];
  /** Why the outcomes were unknown (first reason), when any was. */
  unknownReason: string | undefined;
}

/**
 * Decides, per claimed row, what its send outcome means for the outbox. Pure: the relay applies it.
 *
 * - accepted → published.
 * - unknown → released: the broker was not reachable for an answer; this says nothing about the
 *   message, so no attempt is counted (the relay backs off as a whole instead).
 * - rejected, or modified with delivery-failed/undeliverable → the broker looked at the message
 *   and said no: counts as an attempt, retried after a backoff based on the attempts.
 * - released, or modified without either flag → "not now": retried after a backoff, not counted.
 */
export function planSettlement(
  rows: ReadonlyArray<{ id: string; attempts: number }>,
  outcomes: ReadonlyArray<PublishOutcome>,
  retryPolicy: BackoffPolicy,
  random: () => number = Math.random,
): SettlementPlan {
  if (rows.length !== outcomes.length)
    throw new Error(`planSettlement: ${rows.length} rows but ${outcomes.length} outcomes`);
  const plan: SettlementPlan = {
    publish: [],
    release: [],
    releaseUnsent: [],
    retry: [],
    unknownReason: undefined,
  };
  rows.forEach((row, i) => {
    const outcome = outcomes[i] as PublishOutcome;
    switch (outcome.kind) {
      case "accepted":
        plan.publish.push(row.id);
        return;
      case "unknown":
        (outcome.notSent === true ? plan.releaseUnsent : plan.release).push(row.id);
        plan.unknownReason ??= outcome.reason;
        return;
      case "rejected":
        plan.retry.push(retry(row, "rejected", `rejected by broker: ${outcome.reason}`, true));
        return;
      case "released":
        plan.retry.push(retry(row, "released", "released by broker", false));
        return;
      case "modified": {
        const counted = outcome.deliveryFailed || outcome.undeliverableHere;
        const flags = [
          outcome.deliveryFailed && "delivery-failed",
          outcome.undeliverableHere && "undeliverable-here",
        ].filter(Boolean);
        plan.retry.push(
          retry(
            row,
            "modified",
            `modified by broker${flags.length ? ` (${flags.join(", ")})` : ""}`,
            counted,
          ),
        );
        return;
      }
    }
  });
  return plan;

  function retry(
    row: { id: string; attempts: number },
    outcome: RetryPlan["outcome"],
    error: string,
    countAttempt: boolean,
  ): RetryPlan {
    const failures = countAttempt ? row.attempts + 1 : Math.max(1, row.attempts);
    return {
      id: row.id,
      outcome,
      error,
      countAttempt,
      delayMs: backoffDelayMs(failures, retryPolicy, random),
    };
  }
}
