const TRANSIENT_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "57P01", // admin_shutdown: the server is stopping
  "57P03", // cannot_connect_now: the server is starting, or recovering after a crash
]);

/**
 * Connection-level failures (database down, restarting, unreachable), as opposed to a bad query.
 * Looks through drizzle's DrizzleQueryError to the pg error it wraps (`cause`).
 */
export function isTransientConnectionError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 3; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && TRANSIENT_CODES.has(code)) return true;
    if (/Connection terminated|timeout exceeded when trying to connect/i.test(e.message)) return true;
  }
  return false;
}

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
