import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { LogSink } from "./log-sink.js";
import { stripControlSequences } from "./terminal-safe.js";

describe("terminal control sequences", () => {
  it("strips CSI, OSC (title, hyperlink, clipboard), C1 and C0 controls, keeping the text", () => {
    expect(stripControlSequences("\x1b[31mred\x1b[0m \x1b[2J\x1b[H\x1b[?25lcleared")).toBe("red cleared");
    expect(stripControlSequences("\x1b]0;owned title\x07after")).toBe("after");
    expect(stripControlSequences("\x1b]52;c;ZWNobyBwd25lZA==\x1b\\clip")).toBe("clip");
    expect(stripControlSequences("\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\")).toBe("link");
    expect(stripControlSequences("bell\x07 back\x08space \x9b31m8bit\rcr\x7f")).toBe(
      "bell backspace 31m8bitcr",
    );
    expect(stripControlSequences("tab\tstays, é and 日本 stay")).toBe("tab\tstays, é and 日本 stay");
    expect(stripControlSequences("trailing escape \x1b")).toBe("trailing escape ");
  });
});

describe("LogSink console output", () => {
  let dir: string;
  afterEach(async () => {
    vi.restoreAllMocks();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it("prints service output without control sequences and keeps the raw line in the file", async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "log-sink-"));
    const printed: string[] = [];
    vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      printed.push(String(chunk));
      return true;
    });
    const sink = new LogSink({ directory: dir, console: true });
    sink.register("svc");
    sink.write("svc", "stdout", "plain \x1b]0;pwned\x07 \x1b[2Jtext");
    sink.write("svc", "stdout", JSON.stringify({ level: "info", msg: "json \u001b[31mred" }));
    await sink.close();
    vi.restoreAllMocks();
    expect(printed.join("").includes("\x1b")).toBe(false);
    expect(printed.join("")).toContain("plain  text");
    expect(printed.join("")).toContain("INFO  json red");
    expect(await fs.readFile(sink.fileOf("svc"), "utf8")).toContain("\x1b]0;pwned\x07");
  });
});
