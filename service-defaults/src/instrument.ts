/**
 * Preload for services: `node --conditions=outbox-source --import tsx --import @outbox/service-defaults/instrument src/main.ts`.
 *
 * In ESM, express and pg are patched through loader hooks, which must be registered before those
 * modules are first imported — hence a preload rather than a call in main.ts. Without
 * OTEL_EXPORTER_OTLP_ENDPOINT nothing is registered and nothing starts.
 */
import { register } from "node:module";
import { startTelemetry } from "./telemetry.js";

const endpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
if (endpoint !== undefined && endpoint !== "") {
  try {
    // Only the instrumented packages go through import-in-the-middle; wrapping every module
    // (including tsx-compiled sources) costs start-up time and breaks some packages.
    register("@opentelemetry/instrumentation/hook.mjs", import.meta.url, {
      data: { include: ["express", "pg", "http", "https", "node:http", "node:https"] },
    });
  } catch (error) {
    process.stderr.write(`OpenTelemetry loader hook not registered: ${String(error)}\n`);
  }
  await startTelemetry(process.env.OTEL_SERVICE_NAME || "unknown_service:node");
}
