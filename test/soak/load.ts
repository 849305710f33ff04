import { randomUUID } from "node:crypto";
import type { SeededRandom } from "./random.js";

/** What the API confirmed: the entities answered 201 and the highest version answered 200 for each. */
export interface Confirmed {
  /** entity id -> highest version the API confirmed (1 = created). */
  versions: Map<string, number>;
  creates: number;
  updates: number;
  /** Requests retried after an error or a timeout (same Idempotency-Key). */
  retries: number;
  /** Answers no retry can fix (4xx other than the expected ones): each is a finding. */
  unexpected: string[];
}

export interface LoadOptions {
  senderUrl: () => string;
  /** Messages to produce: creates + updates (each one is an outbox row). */
  messages: number;
  clients: number;
  random: SeededRandom;
  /** Updates per entity: 0..maxUpdates, chosen by the seeded random. */
  maxUpdates: number;
  requestTimeoutMs: number;
  signal: AbortSignal;
}

/**
 * Concurrent clients that create entities and update them (If-Match chains the updates of one
 * entity), retrying every request with the SAME Idempotency-Key after an error or a timeout, as a
 * careful client does. Only answers the API gave count as confirmed.
 */
export async function runLoad(opts: LoadOptions): Promise<Confirmed> {
  const confirmed: Confirmed = { versions: new Map(), creates: 0, updates: 0, retries: 0, unexpected: [] };
  let budget = opts.messages;
  const take = (n: number): number => {
    const granted = Math.max(0, Math.min(n, budget));
    budget -= granted;
    return granted;
  };

  const client = async (clientNo: number): Promise<void> => {
    while (!opts.signal.aborted) {
      const updates = opts.random.int(0, opts.maxUpdates);
      const granted = take(1 + updates);
      if (granted === 0) return;
      const name = `soak-${clientNo}-${randomUUID().slice(0, 8)}`;
      const created = await request(opts, confirmed, "POST", "/api/EntityItems", { name }, {});
      if (created === undefined) return;
      const id = (created as { id: string }).id;
      confirmed.versions.set(id, 1);
      confirmed.creates += 1;
      for (let v = 1; v < granted; v++) {
        const body = { name: `${name} v${v + 1}`, description: `update ${v}` };
        const updated = await request(opts, confirmed, "PUT", `/api/EntityItems/${id}`, body, {
          "if-match": `"${v}"`,
        });
        if (updated === undefined) return;
        confirmed.versions.set(id, v + 1);
        confirmed.updates += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: opts.clients }, (_, i) => client(i)));
  return confirmed;
}

/** One request, retried with the same key until the API answers it (undefined: aborted). */
async function request(
  opts: LoadOptions,
  confirmed: Confirmed,
  method: "POST" | "PUT",
  path: string,
  body: unknown,
  headers: Record<string, string>,
): Promise<unknown> {
  const key = randomUUID();
  for (let attempt = 1; !opts.signal.aborted; attempt++) {
    try {
      const response = await fetch(`${opts.senderUrl()}${path}`, {
        method,
        headers: { "content-type": "application/json", "idempotency-key": key, ...headers },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(opts.requestTimeoutMs),
      });
      const text = await response.text();
      if (response.status === 200 || response.status === 201) return JSON.parse(text) as unknown;
      if (response.status < 500 && response.status !== 429) {
        confirmed.unexpected.push(`${method} ${path} -> ${response.status} ${text.slice(0, 200)}`);
        return undefined;
      }
    } catch {
      // Connection refused, reset or timed out: the outcome is unknown, retry with the same key.
    }
    confirmed.retries += 1;
    await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** Math.min(attempt, 5), 2_000)));
  }
  return undefined;
}
