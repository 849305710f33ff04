import { spawn } from "node:child_process";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { startTelemetry } from "./telemetry.js";

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

function runApp(env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "--import",
        "@outbox/service-defaults/instrument",
        "--input-type=module",
        "-e",
        APP,
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
async function otlpSink(): Promise<{ endpoint: string; received: { path: string; body: string }[] }> {
  const received: { path: string; body: string }[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      received.push({ path: req.url ?? "", body });
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
});
