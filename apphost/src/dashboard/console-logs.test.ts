import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConsoleLogBuffer, levelOf } from "./console-logs.js";

describe("levelOf", () => {
  it("reads pino levels (labels and numbers), level words, and treats other stderr as errors", () => {
    expect(levelOf('{"level":"warn","msg":"x"}', "stdout")).toBe("warn");
    expect(levelOf('{"level":50,"msg":"x"}', "stdout")).toBe("error");
    expect(levelOf("2026-11-23 21:00:00 UTC [1] LOG:  database system is ready", "stderr")).toBe("info");
    expect(levelOf("2026-11-23 21:00:00 UTC [1] FATAL:  password authentication failed", "stderr")).toBe(
      "fatal",
    );
    expect(levelOf("node:internal/modules/run_main:123", "stderr")).toBe("error");
    expect(levelOf("2026-11-23 21:00:00,000 WARN  [org.apache.activemq] slow", "stdout")).toBe("warn");
    expect(levelOf("plain line", "stdout")).toBe("info");
  });
});

describe("ConsoleLogBuffer", () => {
  it("filters by resource, text and minimum level and renders pino JSON readably", () => {
    const buffer = new ConsoleLogBuffer();
    buffer.add({
      resource: "sender",
      stream: "stdout",
      time: 1,
      text: '{"level":"info","msg":"listening","port":1}',
    });
    buffer.add({ resource: "receiver", stream: "stdout", time: 2, text: '{"level":"error","msg":"boom"}' });
    buffer.add({ resource: "broker", stream: "stdout", time: 3, text: "AMQ221007: Server is now active" });
    expect(buffer.query({ resource: "sender" }).map((l) => l.text)).toEqual(["INFO  listening port=1"]);
    expect(buffer.query({ minLevel: "error" }).map((l) => l.resource)).toEqual(["receiver"]);
    expect(buffer.query({ text: "amq221007" }).map((l) => l.resource)).toEqual(["broker"]);
  });

  it("keeps a bounded number of lines", () => {
    const buffer = new ConsoleLogBuffer(100);
    for (let i = 0; i < 5000; i++)
      buffer.add({ resource: "x", stream: "stdout", time: i, text: `line ${i}` });
    const lines = buffer.query({ limit: 1_000_000 });
    expect(lines.length).toBeLessThanOrEqual(1100);
    expect(lines.at(-1)?.text).toBe("line 4999");
  });

  it("seeds from a LogSink file (the previous run's tail)", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "console-logs-"));
    try {
      const file = path.join(dir, "sender.log");
      await fs.writeFile(
        file,
        "2026-11-23T21:00:00.000Z stdout first\n2026-11-23T21:00:01.000Z apphost [apphost] stopped\nnot a log line\n",
      );
      const buffer = new ConsoleLogBuffer();
      await buffer.seedFromFile("sender", file);
      expect(buffer.query().map((l) => [l.stream, l.text, l.time])).toEqual([
        ["stdout", "first", Date.parse("2026-11-23T21:00:00.000Z")],
        ["apphost", "[apphost] stopped", Date.parse("2026-11-23T21:00:01.000Z")],
      ]);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
