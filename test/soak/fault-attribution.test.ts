import { describe, expect, it } from "vitest";
import type { FaultRecord } from "./chaos.js";
import { attributeToFaults, countByFault } from "./fault-attribution.js";

const fault = (at: string, component: FaultRecord["component"], kind: FaultRecord["fault"]): FaultRecord => ({
  at,
  component,
  fault: kind,
  healedMs: 0,
});

describe("attributeToFaults", () => {
  it("puts each event after the last fault of the given components before it, whatever order the log is in", () => {
    const faults = [
      fault("2026-01-01T00:00:20.000Z", "broker", "SIGKILL"),
      fault("2026-01-01T00:00:10.000Z", "receiver", "SIGTERM"),
      // Not among the components asked for: never named, even when it came last.
      fault("2026-01-01T00:00:15.000Z", "sender", "SIGKILL"),
      fault("2026-01-01T00:00:50.000Z", "sender-pg", "SIGSTOP"),
    ];
    const times = ["00:00:05", "00:00:10", "00:00:19.95", "00:00:20", "00:01:00"].map(
      (t) => new Date(`2026-01-01T${t}Z`),
    );
    const events = attributeToFaults(times, faults, ["broker", "receiver"]);
    expect(events.map((e) => [e.after, e.seconds_after])).toEqual([
      ["before any fault", undefined],
      ["receiver SIGTERM", 0],
      ["receiver SIGTERM", 10],
      ["broker SIGKILL", 0],
      ["broker SIGKILL", 40],
    ]);
    expect(countByFault(events)).toEqual({
      "before any fault": 1,
      "receiver SIGTERM": 2,
      "broker SIGKILL": 2,
    });
  });

  it("attributes nothing when there is nothing to attribute", () => {
    expect(
      attributeToFaults([], [fault("2026-01-01T00:00:00.000Z", "broker", "SIGSTOP")], ["broker"]),
    ).toEqual([]);
  });
});
