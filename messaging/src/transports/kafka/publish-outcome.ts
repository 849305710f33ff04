import type { PublishOutcome } from "../../transport/transport.js";

/**
 * Broker errors that no resend can cure: the record itself or the topic is refused. Everything
 * else (timeouts, lost connections, leader changes, not enough replicas) leaves the outcome
 * unknown: the record may be on the broker, and a resend is dropped or deduplicated by the inbox.
 */
const REFUSED = new Set([
  "MESSAGE_TOO_LARGE",
  "RECORD_LIST_TOO_LARGE",
  "INVALID_RECORD",
  "CORRUPT_MESSAGE",
  "UNKNOWN_TOPIC_OR_PARTITION",
  "UNKNOWN_TOPIC_ID",
  "INVALID_TOPIC_EXCEPTION",
  "TOPIC_AUTHORIZATION_FAILED",
  "CLUSTER_AUTHORIZATION_FAILED",
  "TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
  "INVALID_REQUIRED_ACKS",
]);

/** Every error in an error's tree (platformatic nests them in `errors` and `cause`). */
function* errorTree(error: unknown, depth = 0): Generator<Record<string, unknown>> {
  if (depth > 8 || typeof error !== "object" || error === null) return;
  const record = error as Record<string, unknown>;
  yield record;
  if (Array.isArray(record["errors"]))
    for (const inner of record["errors"]) yield* errorTree(inner, depth + 1);
  if (record["cause"] !== undefined) yield* errorTree(record["cause"], depth + 1);
}

/** The Kafka error code name (e.g. MESSAGE_TOO_LARGE) of the first refusal found in the error. */
export function refusalOf(error: unknown): string | undefined {
  for (const node of errorTree(error)) {
    const id = node["apiId"];
    if (typeof id === "string" && REFUSED.has(id)) return id;
  }
  return undefined;
}

/** True when some broker answered (a protocol error), i.e. the cluster is reachable. */
export function brokerAnswered(error: unknown): boolean {
  for (const node of errorTree(error)) if (typeof node["apiId"] === "string") return true;
  return false;
}

export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const inner = [...errorTree(error)]
      .slice(1)
      .map((e) => (typeof e["message"] === "string" ? e["message"] : undefined))
      .filter((m): m is string => m !== undefined && m !== error.message);
    return inner.length === 0 ? error.message : `${error.message} (${[...new Set(inner)].join("; ")})`;
  }
  return typeof error === "string" ? error : "unknown error";
}

/** What a failed send means for the relay. */
export function outcomeOfSendError(error: unknown): PublishOutcome {
  const refusal = refusalOf(error);
  if (refusal !== undefined) return { kind: "rejected", reason: `${refusal}: ${describeError(error)}` };
  return { kind: "unknown", reason: describeError(error) };
}
