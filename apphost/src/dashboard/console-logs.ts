import fsp from "node:fs/promises";
import { readable, type LogLine } from "../runtime/log-sink.js";

export interface ConsoleLine {
  seq: number;
  resource: string;
  stream: LogLine["stream"];
  time: number;
  level: string;
  text: string;
}

const LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"];
const PINO_NUMERIC: Record<number, string> = {
  10: "trace",
  20: "debug",
  30: "info",
  40: "warn",
  50: "error",
  60: "fatal",
};

const WORD_LEVELS: Record<string, string> = {
  TRACE: "trace",
  DEBUG: "debug",
  INFO: "info",
  LOG: "info",
  WARN: "warn",
  WARNING: "warn",
  ERROR: "error",
  SEVERE: "error",
  FATAL: "fatal",
  PANIC: "fatal",
};

/** The level of a console line: pino JSON carries it; otherwise look for a level word, stderr = error. */
export function levelOf(text: string, stream: LogLine["stream"]): string {
  if (text.startsWith("{")) {
    try {
      const level = (JSON.parse(text) as { level?: unknown }).level;
      if (typeof level === "string" && LEVELS.includes(level)) return level;
      if (typeof level === "number") return PINO_NUMERIC[level] ?? "info";
    } catch {
      // Not JSON after all.
    }
  }
  // Java/log4j style ("WARN"), PostgreSQL style ("LOG:", "WARNING:", "FATAL:"; all on stderr).
  const word = /\b(TRACE|DEBUG|INFO|LOG|WARN(?:ING)?|ERROR|FATAL|PANIC|SEVERE)\b/.exec(text)?.[1];
  if (word) return WORD_LEVELS[word] ?? "info";
  return stream === "stderr" ? "error" : "info";
}

export function levelRank(level: string): number {
  const index = LEVELS.indexOf(level);
  return index < 0 ? 2 : index;
}

/**
 * Console output of every resource for the dashboard: a bounded in-memory ring fed live from the
 * LogSink, seeded at start with the tail of each resource's `.apphost/logs/<name>.log` so the
 * previous run's last lines are there too.
 */
export class ConsoleLogBuffer {
  private readonly lines: ConsoleLine[] = [];
  private seq = 0;
  private readonly listeners = new Set<(line: ConsoleLine) => void>();

  constructor(private readonly capacity = 20_000) {}

  add(line: LogLine): ConsoleLine {
    const entry: ConsoleLine = {
      seq: ++this.seq,
      resource: line.resource,
      stream: line.stream,
      time: line.time,
      level: levelOf(line.text, line.stream),
      // Same rendering as the AppHost's console: "INFO  message key=value" for pino JSON.
      text: readable(line.text),
    };
    this.lines.push(entry);
    if (this.lines.length > this.capacity + 1000) this.lines.splice(0, this.lines.length - this.capacity);
    for (const listener of this.listeners) listener(entry);
    return entry;
  }

  /**
   * Seeds from a log file written by LogSink (`<ISO time> <stream> <text>` per line); `mask` hides
   * secrets a file written by an earlier run may still hold.
   */
  async seedFromFile(
    resource: string,
    file: string,
    maxLines = 500,
    mask: (text: string) => string = (text) => text,
  ): Promise<void> {
    const text = await fsp.readFile(file, "utf8").catch(() => "");
    const tail = text.split("\n").filter(Boolean).slice(-maxLines);
    for (const raw of tail) {
      const match = /^(\S+) (stdout|stderr|apphost) (.*)$/.exec(raw);
      if (!match) continue;
      const time = Date.parse(match[1] ?? "");
      this.add({
        resource,
        stream: match[2] as LogLine["stream"],
        text: mask(match[3] ?? ""),
        time: Number.isNaN(time) ? Date.now() : time,
      });
    }
    this.lines.sort((a, b) => a.time - b.time || a.seq - b.seq);
  }

  query(
    options: { resource?: string; text?: string; minLevel?: string; limit?: number } = {},
  ): ConsoleLine[] {
    const text = options.text?.toLowerCase();
    const min = options.minLevel ? levelRank(options.minLevel) : 0;
    const result = this.lines.filter(
      (l) =>
        (!options.resource || l.resource === options.resource) &&
        levelRank(l.level) >= min &&
        (!text || l.text.toLowerCase().includes(text)),
    );
    return result.slice(-(options.limit ?? 2000));
  }

  onLine(listener: (line: ConsoleLine) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
