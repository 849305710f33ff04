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
