import { trace } from "@opentelemetry/api";
import { logs, SeverityNumber, type AnyValueMap } from "@opentelemetry/api-logs";
import { pino } from "pino";

export type Logger = import("pino").Logger;

/**
 * pino JSON on stdout. Levels are written as labels ("info") so console viewers need no lookup
 * table; the active span's ids are added so log lines join their trace.
 */
export function createLogger(
  serviceName: string,
  level: string = "info",
  env: NodeJS.ProcessEnv = process.env,
): Logger {
  const options: import("pino").LoggerOptions = {
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
  };
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT) return pino(options);
  // With telemetry on, each line also becomes an OTel log record. multistream writes synchronously
  // inside the log call, so the record picks up the active span as its trace context.
  return pino(
    options,
    pino.multistream([
      { level: "trace", stream: pino.destination({ fd: 1, sync: true }) },
      { level: "trace", stream: otelLogStream() },
    ]),
  );
}

const SEVERITY: Record<string, SeverityNumber> = {
  trace: SeverityNumber.TRACE,
  debug: SeverityNumber.DEBUG,
  info: SeverityNumber.INFO,
  warn: SeverityNumber.WARN,
  error: SeverityNumber.ERROR,
  fatal: SeverityNumber.FATAL,
};

/** Fields pino adds to every line that OTel carries elsewhere (resource, timestamp, span context). */
const ENVELOPE = new Set(["level", "time", "msg", "service", "pid", "trace_id", "span_id", "hostname"]);

/**
 * A pino destination that turns each JSON line into an OTel log record on the global logger
 * provider (a no-op until the SDK registers one). Nested values are kept as JSON strings so every
 * attribute stays a primitive that any backend can show.
 */
export function otelLogStream(): { write(line: string): void } {
  const logger = logs.getLogger("pino");
  return {
    write(line: string) {
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      const level = typeof record.level === "string" ? record.level : "info";
      const attributes: AnyValueMap = {};
      for (const [key, value] of Object.entries(record)) {
        if (ENVELOPE.has(key) || value === undefined || value === null) continue;
        attributes[key] =
          typeof value === "string" || typeof value === "number" || typeof value === "boolean"
            ? value
            : JSON.stringify(value);
      }
      const time = typeof record.time === "string" ? Date.parse(record.time) : Date.now();
      logger.emit({
        severityNumber: SEVERITY[level] ?? SeverityNumber.INFO,
        severityText: level.toUpperCase(),
        body: typeof record.msg === "string" ? record.msg : "",
        attributes,
        timestamp: Number.isNaN(time) ? Date.now() : time,
      });
    },
  };
}

// Lives in @outbox/messaging (the Artemis connection logs its URL); re-exported for the services.
export { redactUrl } from "@outbox/messaging";
