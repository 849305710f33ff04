export interface WaitOptions {
  timeoutMs: number;
  intervalMs: number;
  what: string;
  signal?: AbortSignal;
}

/** Polls `condition` until it returns true; throws with `what` on timeout or abort. A throw inside stops the wait. */
export async function waitUntil(condition: () => Promise<boolean>, options: WaitOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (options.signal?.aborted) throw new Error(`Aborted while waiting for ${options.what}`);
    if (await condition()) return;
    if (Date.now() >= deadline)
      throw new Error(`Timed out after ${options.timeoutMs} ms waiting for ${options.what}`);
    await sleep(options.intervalMs, options.signal);
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
