const TRANSIENT_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "57P01", // admin_shutdown: the server is stopping
  "57P03", // cannot_connect_now: the server is starting
]);

/**
 * Connection-level failures (database down, restarting, unreachable), as opposed to a bad query.
 * Looks through drizzle's DrizzleQueryError to the pg error it wraps (`cause`).
 */
export function isConnectionError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 3; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && TRANSIENT_CODES.has(code)) return true;
    if (/Connection terminated|timeout exceeded when trying to connect/i.test(e.message)) return true;
  }
  return false;
}
