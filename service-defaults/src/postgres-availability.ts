import { HttpProblem, problemResponseSchema } from "@outbox/messaging";

// Node's socket and name-resolution errors: the server is down, restarting, moving (failover) or
// not resolvable for a moment.
const TRANSIENT_ERRNO_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "ENOTFOUND", // DNS has no answer yet (a failover's new address, a restarting container)
  "EAI_AGAIN", // DNS lookup timed out
]);

// SQLSTATEs of a server that is stopping, starting or out of connections: the same query succeeds
// once it answers again.
const TRANSIENT_SQLSTATES = new Set([
  "57P01", // admin_shutdown: the server is stopping
  "57P02", // crash_shutdown: another backend crashed, the server restarts
  "57P03", // cannot_connect_now: the server is starting, or recovering after a crash
  "57P05", // idle_session_timeout: the server closed an idle connection
  "53300", // too_many_connections
]);

// Class 08, connection exception (08000, 08001, 08003, 08004, 08006, 08P01, ...).
const CONNECTION_EXCEPTION_CLASS = "08";

// pg's own messages for a connection that died or a read that never returned (query_timeout).
const TRANSIENT_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error/i;

function isTransientCode(code: string): boolean {
  return (
    TRANSIENT_ERRNO_CODES.has(code) ||
    TRANSIENT_SQLSTATES.has(code) ||
    (/^[0-9A-Z]{5}$/.test(code) && code.startsWith(CONNECTION_EXCEPTION_CLASS))
  );
}

/**
 * Connection-level failures (database down, restarting, failing over, unreachable, out of
 * connections), as opposed to a bad query: retrying the same work later can succeed.
 * Looks through drizzle's DrizzleQueryError to the pg error it wraps (`cause`).
 */
export function isTransientConnectionError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 3; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && isTransientCode(code)) return true;
    if (TRANSIENT_MESSAGES.test(e.message)) return true;
  }
  return false;
}

/**
 * pg-pool's error when every connection of the pool stayed busy for its whole connection timeout:
 * the service is overloaded (or its queries hang), not cut off from the database.
 */
export function isPoolBusyError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 3; e = e.cause, depth++) {
    if (/timeout exceeded when trying to connect/i.test(e.message)) return true;
  }
  return false;
}

/** Seconds a client should wait before retrying, by cause: a busy pool frees up sooner. */
export const RETRY_AFTER_BUSY_S = 1;
export const RETRY_AFTER_UNREACHABLE_S = 5;

/** A 503 that tells the client when to try again. */
function serviceUnavailable(detail: string, retryAfterS: number): HttpProblem {
  return new HttpProblem(503, "Service Unavailable", detail, {}, { "Retry-After": String(retryAfterS) });
}

/** The 503 for a database failure that a retry can fix, or undefined for any other error. */
export function databaseUnavailableProblem(error: unknown): HttpProblem | undefined {
  if (isPoolBusyError(error))
    return serviceUnavailable(
      "Every database connection of this service stayed busy; retry later",
      RETRY_AFTER_BUSY_S,
    );
  if (isTransientConnectionError(error))
    return serviceUnavailable("The database is unreachable; retry later", RETRY_AFTER_UNREACHABLE_S);
  return undefined;
}

/** The OpenAPI entry of the Retry-After header every 503 may carry. */
export const retryAfterHeader = {
  "Retry-After": { description: "Seconds to wait before retrying", optional: true as const },
};

/** For `.catch()` on a route's database call: a retryable database failure becomes its 503. */
export function rethrowAsUnavailable(error: unknown): never {
  throw databaseUnavailableProblem(error) ?? error;
}

/** The OpenAPI description of that 503. */
export const databaseUnavailableResponse = {
  description: "The database is unreachable, or every connection to it stayed busy; retry later",
  schema: problemResponseSchema,
  headers: retryAfterHeader,
};

/**
 * Runs `operation` (typically the start-up migrations), retried while the database is not reachable
 * yet or still starting/recovering, for up to `waitMs`. Any other failure (bad SQL, bad credentials)
 * is thrown at once: start-up must fail loudly.
 */
export async function retryWhileUnreachable(
  operation: () => Promise<void>,
  opts: { waitMs: number; onRetry: (error: unknown, attempt: number) => void },
): Promise<void> {
  const deadline = Date.now() + opts.waitMs;
  for (let attempt = 1; ; attempt++) {
    try {
      await operation();
      return;
    } catch (error) {
      if (!isTransientConnectionError(error) || Date.now() >= deadline) throw error;
      opts.onRetry(error, attempt);
      await new Promise((resolve) => setTimeout(resolve, Math.min(250 * 2 ** (attempt - 1), 2_000)));
    }
  }
}
