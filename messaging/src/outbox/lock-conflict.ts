/** SQLSTATEs of a statement aborted by a conflict with another transaction: running it again is safe. */
const LOCK_CONFLICT_CODES = new Set(["40P01" /* deadlock_detected */, "40001" /* serialization_failure */]);

/** True when `error` (or its cause, as drizzle wraps pg's error) is a deadlock or serialization abort. */
export function isLockConflict(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 3; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && LOCK_CONFLICT_CODES.has(code)) return true;
  }
  return false;
}

export interface LockConflictRetry {
  /** Tries in all, at least 1. Default 5. */
  attempts?: number;
  /** Wait before the second try, doubled for each further one. Default 10 ms. */
  delayMs?: number;
}

/**
 * Runs `statement` (one autocommit statement, or a whole transaction) again when PostgreSQL aborted
 * it for a deadlock or a serialization failure: the abort rolled it back, so nothing was applied.
 * Any other error, and the last conflict, are thrown.
 */
export async function retryOnLockConflict<T>(
  statement: () => Promise<T>,
  { attempts = 5, delayMs = 10 }: LockConflictRetry = {},
): Promise<T> {
  if (!Number.isInteger(attempts) || attempts < 1)
    throw new RangeError(`attempts must be a positive integer, got ${attempts}`);
  for (let attempt = 1; ; attempt++) {
    try {
      return await statement();
    } catch (error) {
      if (attempt >= attempts || !isLockConflict(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, delayMs * 2 ** (attempt - 1)));
    }
  }
}
