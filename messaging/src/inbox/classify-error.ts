/**
 * transient: retrying later may succeed (database down, connection lost, lock/serialization
 * conflicts, timeouts) -> redeliver.
 * poison: the message's data can never be stored (data exceptions, integrity violations) ->
 * dead-letter now instead of burning redeliveries.
 */
export type FailureKind = "transient" | "poison";

// SQLSTATE classes: 22 data exception, 23 integrity constraint violation.
const POISON_SQLSTATE_CLASSES = new Set(["22", "23"]);

/**
 * Classifies an error thrown while applying a message. Unknown errors count as transient: a bug or
 * an outage fixed later should not dead-letter everything, and the broker's max-delivery-attempts
 * still moves a message that keeps failing to the DLQ.
 */
export function classifyError(error: unknown): FailureKind {
  const code = sqlState(error);
  if (code !== undefined && POISON_SQLSTATE_CLASSES.has(code.slice(0, 2))) return "poison";
  return "transient";
}

/** The 5-character SQLSTATE of a pg DatabaseError, looking through wrapping errors (drizzle wraps them in `cause`). */
export function sqlState(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * A one-line description for logs and the failure record. drizzle wraps driver errors in
 * "Failed query: <sql> params: <values>"; the driver's own message (the cause) is what matters, and
 * the parameters (message content) stay out of logs.
 */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = sqlState(error);
  const root =
    error.message.startsWith("Failed query:") && error.cause instanceof Error ? error.cause : error;
  return `${code ? `[${code}] ` : ""}${root.message}`;
}
