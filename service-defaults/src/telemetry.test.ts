import { spawn } from "node:child_process";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { isCollector, startTelemetry } from "./telemetry.js";

const packageDir = fileURLToPath(new URL("..", import.meta.url));

// A service in miniature: preload the instrumentation, serve one request to itself, stop.
const APP = `
import { ServiceHost, createLogger } from "@outbox/service-defaults";
const host = new ServiceHost({ name: "otel-app", version: "0", logger: createLogger("otel-app", "warn"), port: 0, handleSignals: false });
host.route({ method: "get", path: "/ping/:id", summary: "ping", responses: { 200: { description: "pong" } },
  handler: ({ res }) => { res.json({ pong: true }); } });
const { url } = await host.start();
const res = await fetch(url + "/ping/7");
console.log("STATUS " + res.status);
await host.stop();
`;

// Logs inside a request (so inside the HTTP server span) and outside any span.
const LOGGING_APP = `
import { ServiceHost, createLogger } from "@outbox/service-defaults";
const logger = createLogger("otel-app", "info");
const host = new ServiceHost({ name: "otel-app", version: "0", logger, port: 0, handleSignals: false });
host.route({ method: "get", path: "/work", summary: "work", responses: { 200: { description: "ok" } },
  handler: ({ res }) => { logger.warn({ job: 42 }, "working inside the request"); res.json({ ok: true }); } });
const { url } = await host.start();
logger.info("outside any span");
const res = await fetch(url + "/work");
console.log("STATUS " + res.status);
await host.stop();
`;

function runApp(
  env: NodeJS.ProcessEnv,
  app = APP,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        "--conditions=outbox-source",
        "--import",
        "tsx",
        "--import",
        "@outbox/service-defaults/instrument",
        "--input-type=module",
        "-e",
        app,
      ],
      { cwd: packageDir, env: { PATH: process.env.PATH, ...env }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

const servers: http.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** Records what an OTLP/HTTP exporter posts. */
interface Received {
  path: string;
  body: string;
  apiKey: string | string[] | undefined;
}

async function otlpSink(): Promise<{ endpoint: string; received: Received[] }> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      received.push({ path: req.url ?? "", body, apiKey: req.headers["x-otlp-api-key"] });
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received };
}

describe("telemetry", () => {
  it("does nothing without OTEL_EXPORTER_OTLP_ENDPOINT", async () => {
    expect(await startTelemetry("svc", { env: {} })).toBeUndefined();
  });

  it("the preload leaves start-up alone when the endpoint is unset", async () => {
    const result = await runApp({});
    expect(result.stderr).toBe("");
    expect(result.stdout).toContain("STATUS 200");
    expect(result.code).toBe(0);
  });

  it("the preload exports http and express spans to <endpoint>/v1/traces", async () => {
    const sink = await otlpSink();
    const result = await runApp({
      OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint,
      OTEL_SERVICE_NAME: "otel-app",
    });
    expect(result.stdout).toContain("STATUS 200");
    expect(result.code).toBe(0);
    const traces = sink.received
      .filter((r) => r.path === "/v1/traces")
      .map((r) => r.body)
      .join("\n");
    expect(traces).toContain('"@opentelemetry/instrumentation-http"');
    expect(traces).toContain('"@opentelemetry/instrumentation-express"');
    expect(traces).toContain("/ping/:id");
    expect(traces).toContain('"otel-app"');
  });

  it("exports pino lines as OTLP logs carrying the active span's ids, with the configured headers", async () => {
    const sink = await otlpSink();
    const result = await runApp(
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint,
        OTEL_EXPORTER_OTLP_HEADERS: "x-otlp-api-key=secret",
        OTEL_SERVICE_NAME: "otel-app",
      },
      LOGGING_APP,
    );
    expect(result.stdout).toContain("STATUS 200");
    expect(result.code).toBe(0);
    expect(sink.received.every((r) => r.apiKey === "secret")).toBe(true);

    // stdout: the line inside the request carries trace_id/span_id, the one outside doesn't.
    const lines = result.stdout.split("\n").filter((l) => l.startsWith("{"));
    const inside = JSON.parse(lines.find((l) => l.includes("working inside")) ?? "{}") as Record<
      string,
      string
    >;
    const outside = JSON.parse(lines.find((l) => l.includes("outside any span")) ?? "{}") as Record<
      string,
      string
    >;
    expect(inside.trace_id).toMatch(/^[0-9a-f]{32}$/);
    expect(inside.span_id).toMatch(/^[0-9a-f]{16}$/);
    expect(outside.trace_id).toBeUndefined();

    // OTLP: the same record, with the same ids as a span of the trace.
    const logs = sink.received.filter((r) => r.path === "/v1/logs").map((r) => r.body);
    const records = logs.flatMap((body) =>
      (
        JSON.parse(body) as { resourceLogs: { scopeLogs: { logRecords: Record<string, unknown>[] }[] }[] }
      ).resourceLogs
        .flatMap((rl) => rl.scopeLogs)
        .flatMap((sl) => sl.logRecords),
    );
    const record = records.find((r) => JSON.stringify(r.body).includes("working inside the request"));
    expect(record).toMatchObject({ severityText: "WARN", traceId: inside.trace_id, spanId: inside.span_id });
    expect(JSON.stringify(record?.attributes)).toContain('"job"');
    const traces = sink.received
      .filter((r) => r.path === "/v1/traces")
      .map((r) => r.body)
      .join("\n");
    expect(traces).toContain(inside.trace_id);

    // Metrics go out too (the server's request duration at least).
    const measured = sink.received.filter((r) => r.path === "/v1/metrics").map((r) => r.body);
    expect(measured.join("\n")).toContain("http.server.request.duration");
  });

  it("recognises the exporters' own requests to the collector (left out of traces and metrics)", () => {
    const endpoint = "http://127.0.0.1:18888";
    expect(isCollector({ hostname: "127.0.0.1", port: 18888 }, endpoint)).toBe(true);
    expect(isCollector({ host: "127.0.0.1:18888", port: "18888" }, endpoint)).toBe(true);
    expect(isCollector({ hostname: "127.0.0.1", port: 5432 }, endpoint)).toBe(false);
    expect(isCollector({ hostname: "example.org" }, "http://example.org")).toBe(true);
    expect(isCollector({ hostname: "127.0.0.1", port: 18888 }, "not a url")).toBe(false);
  });
});
