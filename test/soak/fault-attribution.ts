import type { Component, FaultRecord } from "./chaos.js";

/** An event (e.g. a repeat delivery) next to the fault that came last before it. */
export interface AttributedEvent {
  at: string;
  /** "<component> <fault>", e.g. "receiver SIGTERM", or "before any fault". */
  after: string;
  /** Seconds from the start of that fault to the event. */
  seconds_after?: number;
}

export const BEFORE_ANY_FAULT = "before any fault";

/**
 * Puts each event next to the fault of one of `components` that started last before it. The soak
 * uses it to show which faults the repeat deliveries with delivery-count 0 follow, among those of
 * the broker and the receiver (only they can make the broker deliver again). The receiver records
 * when it skipped each one, after the fault that caused it: a hint, not a proof (the witness
 * queue is the proof that they are not copies).
 */
export function attributeToFaults(
  times: Date[],
  faults: FaultRecord[],
  components: readonly Component[],
): AttributedEvent[] {
  const ordered = faults
    .filter((f) => components.includes(f.component))
    .map((f) => ({ at: Date.parse(f.at), label: `${f.component} ${f.fault}` }))
    .sort((a, b) => a.at - b.at);
  return times.map((time) => {
    let last: (typeof ordered)[number] | undefined;
    for (const fault of ordered) {
      if (fault.at > time.getTime()) break;
      last = fault;
    }
    return last === undefined
      ? { at: time.toISOString(), after: BEFORE_ANY_FAULT }
      : {
          at: time.toISOString(),
          after: last.label,
          seconds_after: Math.round((time.getTime() - last.at) / 100) / 10,
        };
  });
}

/** How many events follow each fault kind ("broker SIGTERM": 4, ...). */
export function countByFault(events: AttributedEvent[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const event of events) counts[event.after] = (counts[event.after] ?? 0) + 1;
  return counts;
}
