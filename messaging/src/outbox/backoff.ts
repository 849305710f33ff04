export interface BackoffPolicy {
  /** Delay before the first retry (before jitter). */
  minMs: number;
  /** Cap on the exponential growth (before jitter). */
  maxMs: number;
  /** Growth per failure; 2 doubles. */
  factor?: number;
}

/**
 * Capped exponential backoff with "equal jitter": the delay lies in [base/2, base], where
 * base = min(maxMs, minMs * factor^(failures-1)). Keeping half the base avoids the near-zero
 * delays of full jitter (a tight retry loop against a dead broker) while still spreading
 * instances that failed at the same moment.
 *
 * @param failures consecutive failures so far, >= 1 (values below 1 are treated as 1)
 * @param random a source in [0, 1), injectable for tests
 */
export function backoffDelayMs(
  failures: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const factor = policy.factor ?? 2;
  const minMs = Math.max(0, policy.minMs);
  const maxMs = Math.max(minMs, policy.maxMs);
  const n = Number.isFinite(failures) ? Math.max(1, Math.floor(failures)) : 1;
  // Exponent capped so that huge failure counts cannot overflow to Infinity/NaN.
  const exponent = Math.min(n - 1, 64);
  const base = Math.min(maxMs, minMs * Math.pow(factor, exponent));
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.round(base / 2 + (base / 2) * r);
}
