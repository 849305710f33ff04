import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it, vi } from "vitest";
import { LogSink, readable } from "./log-sink.js";

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

describe("masking", () => {
  it("hides secrets in the log file, the console, the recent lines and what listeners get", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "log-sink-mask-"));
    const printed: string[] = [];
    const write = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
      printed.push(String(chunk));
      return true;
    });
    const sink = new LogSink({
      directory: dir,
      console: true,
      mask: (text) => text.split("s3cretValue").join("***"),
    });
    try {
      const heard: string[] = [];
      sink.onLine((line) => heard.push(line.text));
      sink.write("db", "stdout", "connection string postgresql://app:s3cretValue@127.0.0.1:5432/db");
      await sink.close();
      write.mockRestore();
      const file = await fs.readFile(sink.fileOf("db"), "utf8");
      for (const seen of [file, printed.join(""), heard.join("\n"), sink.recentLines("db").join("\n")]) {
        expect(seen).toContain("postgresql://app:***@127.0.0.1:5432/db");
        expect(seen).not.toContain("s3cretValue");
      }
    } finally {
      write.mockRestore();
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
