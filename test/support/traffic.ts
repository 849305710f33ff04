import { postEntity } from "./system.js";

export interface Traffic {
  /** Ids of the entities the sender answered 201 for (committed, so they must arrive). */
  accepted(): string[];
  /** How many POSTs failed (no 201); failed POSTs committed nothing. */
  rejected(): number;
  waitForAccepted(count: number, timeoutMs?: number): Promise<void>;
  waitForRejected(count: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** POSTs entities one after another (a steady stream) until stopped. */
export function startTraffic(senderUrl: string, prefix: string): Traffic {
  const ids: string[] = [];
  let failures = 0;
  let running = true;
  let n = 0;
  const loop = (async () => {
    while (running) {
      try {
        const response = await postEntity(senderUrl, { name: `${prefix}-${n++}` });
        if (response.status === 201) ids.push((response.body as { id: string }).id);
        else failures++;
      } catch {
        failures++;
      }
      // A little breathing room so a failing sender is not hammered in a tight loop.
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  const waitFor = async (what: string, done: () => boolean, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline)
        throw new Error(
          `traffic: ${what} not reached within ${timeoutMs} ms (${ids.length} accepted, ${failures} failed)`,
        );
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  return {
    accepted: () => [...ids],
    rejected: () => failures,
    waitForAccepted: (count, timeoutMs = 120_000) =>
      waitFor(`${count} accepted`, () => ids.length >= count, timeoutMs),
    waitForRejected: (count, timeoutMs = 60_000) =>
      waitFor(`${count} rejected`, () => failures >= count, timeoutMs),
    stop: async () => {
      running = false;
      await loop;
    },
  };
}
