import fs from "node:fs";
import path from "node:path";
import { stripControlSequences } from "./terminal-safe.js";

const COLOURS = [36, 33, 35, 32, 34, 91, 96, 93, 95, 92];
const RECENT_LINES = 200;

export interface LogLine {
  resource: string;
  stream: "stdout" | "stderr" | "apphost";
  text: string;
  time: number;
}

export interface LogSinkOptions {
  directory: string;
  /** Print to the console (the CLI does; tests usually don't). */
  console: boolean;
  colour?: boolean;
  /**
   * Hides secrets in a line before it is stored anywhere: the log file, the console, the recent
   * lines a failed start shows, and every listener (the dashboard).
   */
  mask?: (text: string) => string;
}

/**
 * Fans every resource's output out to the console (prefixed with the resource name,
 * coloured on a TTY) and to one append-only file per resource; keeps the last lines in memory
 * so a failed start can show why.
 */
export class LogSink {
  private readonly files = new Map<string, fs.WriteStream>();
  private readonly recent = new Map<string, LogLine[]>();
  private readonly listeners = new Set<(line: LogLine) => void>();
  private readonly colourOf = new Map<string, number>();
  private width = 8;

  constructor(private readonly options: LogSinkOptions) {}

  register(resource: string): void {
    this.width = Math.max(this.width, resource.length);
    if (!this.colourOf.has(resource))
      this.colourOf.set(resource, COLOURS[this.colourOf.size % COLOURS.length] ?? 37);
  }

  fileOf(resource: string): string {
    return path.join(this.options.directory, `${resource}.log`);
  }

  write(resource: string, stream: LogLine["stream"], raw: string): void {
    const text = this.options.mask ? this.options.mask(raw) : raw;
    const line: LogLine = { resource, stream, text, time: Date.now() };
    this.file(resource).write(`${new Date(line.time).toISOString()} ${stream} ${text}\n`);
    const lines = this.recent.get(resource) ?? [];
    lines.push(line);
    if (lines.length > RECENT_LINES) lines.shift();
    this.recent.set(resource, lines);
    // Control sequences are stripped after rendering: a JSON string may carry an escaped ESC.
    if (this.options.console)
      process.stdout.write(`${this.prefix(resource)} ${stripControlSequences(readable(text))}\n`);
    for (const listener of this.listeners) listener(line);
  }

  /** Splits a child's output stream into lines and writes each. */
  pipe(resource: string, stream: "stdout" | "stderr", source: NodeJS.ReadableStream): void {
    let pending = "";
    source.setEncoding("utf8");
    source.on("data", (chunk: string) => {
      pending += chunk;
      let newline = pending.indexOf("\n");
      while (newline >= 0) {
        this.write(resource, stream, pending.slice(0, newline).replace(/\r$/, ""));
        pending = pending.slice(newline + 1);
        newline = pending.indexOf("\n");
      }
    });
    source.on("end", () => {
      if (pending) this.write(resource, stream, pending);
      pending = "";
    });
  }

  recentLines(resource: string, count = 20): string[] {
    return (this.recent.get(resource) ?? []).slice(-count).map((l) => l.text);
  }

  onLine(listener: (line: LogLine) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    const closing = [...this.files.values()].map(
      (f) => new Promise<void>((resolve) => f.end(() => resolve())),
    );
    this.files.clear();
    await Promise.all(closing);
  }

  private file(resource: string): fs.WriteStream {
    let file = this.files.get(resource);
    if (!file) {
      // Created on first write: `--fresh` wipes the state directory after the sink exists.
      fs.mkdirSync(this.options.directory, { recursive: true });
      file = fs.createWriteStream(this.fileOf(resource), { flags: "a", mode: 0o600 });
      // A full disk must not take the AppHost down; the console still shows the output.
      file.on("error", (error) =>
        process.stderr.write(`apphost | cannot write ${this.fileOf(resource)}: ${error.message}\n`),
      );
      this.files.set(resource, file);
    }
    return file;
  }

  private prefix(resource: string): string {
    const label = resource.padEnd(this.width);
    if (!this.options.colour) return `${label} |`;
    return `\x1b[${this.colourOf.get(resource) ?? 37}m${label} |\x1b[0m`;
  }
}

const HIDDEN_FIELDS = new Set(["level", "time", "msg", "service", "pid", "hostname"]);

/**
 * Services log pino JSON (kept as is in the log files); on the console a line reads better as
 * "INFO  message key=value …".
 */
export function readable(text: string): string {
  if (!text.startsWith("{")) return text;
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return text;
  }
  if (typeof record.msg !== "string") return text;
  const level =
    typeof record.level === "string" ? record.level.toUpperCase() : JSON.stringify(record.level ?? "");
  const fields = Object.entries(record)
    .filter(([key]) => !HIDDEN_FIELDS.has(key))
    .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`);
  return [level.padEnd(5), record.msg, ...fields].join(" ");
}
