/**
 * Resolves after `ms`, or earlier when `signal` aborts or `wake` is called (e.g. a new outbox
 * row was announced). Never rejects: the caller checks the signal.
 */
export function sleep(
  ms: number,
  signal: AbortSignal,
  onWake?: (wake: () => void) => () => void,
): Promise<void> {
  if (signal.aborted || ms <= 0) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const unsubscribers: Array<() => void> = [];
    let settled = false;
    const done = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      for (const unsubscribe of unsubscribers) unsubscribe();
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    if (onWake !== undefined) unsubscribers.push(onWake(done));
  });
}
