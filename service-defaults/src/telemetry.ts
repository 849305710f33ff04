import { OTLPLogExporter } from "@opentelemetry/exporter-logs-otlp-http";
import { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { ExpressInstrumentation, ExpressLayerType } from "@opentelemetry/instrumentation-express";
import { HttpInstrumentation } from "@opentelemetry/instrumentation-http";
import { PgInstrumentation } from "@opentelemetry/instrumentation-pg";
import { BatchLogRecordProcessor } from "@opentelemetry/sdk-logs";
import { NodeSDK, metrics } from "@opentelemetry/sdk-node";
import { isMonitorPoll, monitorTokensFromEnv } from "./admin-auth.js";
import { logLevels } from "./config.js";
import { createLogger, type Logger } from "./logging.js";

export interface TelemetryHandle {
  shutdown(): Promise<void>;
}

export interface TelemetryOptions {
  logger?: Logger;
  env?: NodeJS.ProcessEnv;
}

/** Probe paths produce a request every few seconds; tracing them buries the interesting traces. */
const UNTRACED_PATHS = new Set(["/health", "/alive"]);

// One SDK per process: the preload (instrument.ts) and main.ts may both ask for it.
let active: Promise<TelemetryHandle | undefined> | undefined;

/**
 * Starts the OpenTelemetry NodeSDK (OTLP over HTTP with JSON bodies to
 * `$OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces`, `/v1/metrics` and `/v1/logs`; http, express and pg instrumentation)
 * only when OTEL_EXPORTER_OTLP_ENDPOINT is set. Never throws: telemetry must not take the app down.
 * ESM apps must load the module hooks before express/pg are imported: preload `instrument.ts`.
 */
export function startTelemetry(
  serviceName: string,
  options: TelemetryOptions = {},
): Promise<TelemetryHandle | undefined> {
  active ??= new Promise<TelemetryHandle | undefined>((resolve) =>
    resolve(start(serviceName, options)),
  ).catch((error: unknown) => {
    process.stderr.write(`OpenTelemetry not started: ${String(error)}\n`);
    return undefined;
  });
  return active;
}

/** Flushes and stops the SDK if one was started; safe to call more than once. */
export async function shutdownTelemetry(): Promise<void> {
  const handle = await active;
  await handle?.shutdown();
}

function start(serviceName: string, options: TelemetryOptions): TelemetryHandle | undefined {
  const env = options.env ?? process.env;
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (endpoint === undefined || endpoint === "") return undefined;
  const name = env.OTEL_SERVICE_NAME || serviceName;
  const level = (logLevels as readonly string[]).includes(env.LOG_LEVEL ?? "") ? env.LOG_LEVEL : "info";
  const logger = (options.logger ?? createLogger(name, level)).child({ component: "telemetry" });
  // The AppHost dashboard's polls of the admin APIs are not user traffic.
  const monitorTokens = monitorTokensFromEnv(env);
  try {
    const exportIntervalMillis = Number(env.OTEL_METRIC_EXPORT_INTERVAL) || 10_000;
    const sdk = new NodeSDK({
      serviceName: name,
      // Exporters read OTEL_EXPORTER_OTLP_ENDPOINT / _HEADERS themselves and append /v1/<signal>.
      traceExporter: new OTLPTraceExporter(),
      metricReaders: [
        new metrics.PeriodicExportingMetricReader({
          exporter: new OTLPMetricExporter(),
          exportIntervalMillis,
        }),
      ],
      // pino lines reach this through logging.ts' OTel stream (see createLogger).
      logRecordProcessors: [
        new BatchLogRecordProcessor({
          exporter: new OTLPLogExporter(),
          scheduledDelayMillis: Number(env.OTEL_BLRP_SCHEDULE_DELAY) || 1000,
        }),
      ],
      instrumentations: [
        new HttpInstrumentation({
          // The exporters' own POSTs to the collector are not the service's traffic.
          ignoreOutgoingRequestHook: (request) => isCollector(request, endpoint),
          ignoreIncomingRequestHook: (req) =>
            UNTRACED_PATHS.has((req.url ?? "").split("?")[0] ?? "") || isMonitorPoll(req, monitorTokens),
        }),
        // Middleware layers (json parser, logger) add a span each without telling anything.
        new ExpressInstrumentation({ ignoreLayersType: [ExpressLayerType.MIDDLEWARE] }),
        // Only queries inside an operation: background polling would otherwise make a root trace per tick.
        new PgInstrumentation({ requireParentSpan: true }),
      ],
    });
    sdk.start();
    logger.info({ endpoint, serviceName: name }, "OpenTelemetry started");
    let stopped: Promise<void> | undefined;
    return {
      shutdown: () => {
        stopped ??= sdk.shutdown().then(
          () => logger.debug("OpenTelemetry stopped"),
          (error: unknown) => logger.warn({ err: error }, "OpenTelemetry shutdown failed"),
        );
        return stopped;
      },
    };
  } catch (error) {
    logger.error({ err: error }, "OpenTelemetry failed to start; continuing without telemetry");
    return undefined;
  }
}

/** True for a request to the OTLP endpoint itself (the exporters' own traffic). */
export function isCollector(
  request: { host?: string | null; hostname?: string | null; port?: string | number | null },
  endpoint: string,
): boolean {
  try {
    const collector = new URL(endpoint);
    const host = (request.hostname ?? request.host ?? "").replace(/:\d+$/, "");
    const port = String(request.port ?? (collector.protocol === "https:" ? 443 : 80));
    return (
      host === collector.hostname &&
      port === (collector.port || (collector.protocol === "https:" ? "443" : "80"))
    );
  } catch {
    return false;
  }
}
