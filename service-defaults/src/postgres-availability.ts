import { HttpProblem, isTransientConnectionError, problemResponseSchema } from "@outbox/messaging";

// The classification lives in @outbox/messaging (its relay and inbox pause on it); the services use it too.
export { isTransientConnectionError };

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
