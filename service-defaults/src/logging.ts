import { trace } from "@opentelemetry/api";
import { pino } from "pino";

export type Logger = import("pino").Logger;

/**
 * pino JSON on stdout. Levels are written as labels ("info") so console viewers need no lookup
 * table; the active span's ids are added so log lines join their trace.
 */
export function createLogger(serviceName: string, level: string = "info"): Logger {
  return pino({
    level,
    base: { service: serviceName, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    // Secrets must never reach a log sink even when someone logs a whole options object.
    redact: {
      paths: ["password", "*.password", "connectionString", "*.connectionString", "headers.authorization"],
      censor: "[redacted]",
    },
    mixin() {
      const span = trace.getActiveSpan();
      if (span === undefined) return {};
      const { traceId, spanId } = span.spanContext();
      return { trace_id: traceId, span_id: spanId };
    },
  });
}

/** Replaces the password of a URL (e.g. a connection string) so it can be logged. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "***";
    return parsed.toString();
  } catch {
    // Not a URL we can parse: hide anything that looks like user:password@.
    return url.replace(/\/\/([^:/@]+):[^@/]*@/, "//$1:***@");
  }
}
