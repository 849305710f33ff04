import { describe, expect, it } from "vitest";
import { readable } from "./log-sink.js";

describe("console rendering of log lines", () => {
  it("turns a pino JSON line into level, message and fields", () => {
    const line = JSON.stringify({
      level: "info",
      time: "t",
      service: "s",
      pid: 1,
      msg: "AMQP connected",
      broker: "127.0.0.1:1",
      n: 2,
    });
    expect(readable(line)).toBe("INFO  AMQP connected broker=127.0.0.1:1 n=2");
  });

  it("leaves other lines alone", () => {
    expect(readable("2026-11-23 LOG: database system is ready")).toBe(
      "2026-11-23 LOG: database system is ready",
    );
    expect(readable("{not json")).toBe("{not json");
    expect(readable(JSON.stringify({ a: 1 }))).toBe('{"a":1}');
  });
});
