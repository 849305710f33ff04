import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { childEnvironment } from "../runtime/child-environment.js";
import type { LogSink } from "../runtime/log-sink.js";
import { ManagedProcess } from "../runtime/managed-process.js";
import { isPortFree, isPortOpen } from "../runtime/ports.js";
import type { ExtraResource } from "./dashboard-server.js";

/** Jaeger v2's defaults: the UI and the OTLP/HTTP receiver. */
export const JAEGER_UI_PORT = 16686;
export const JAEGER_OTLP_HTTP_PORT = 4318;
/** The query service's gRPC API, which Jaeger always opens beside its UI. */
export const JAEGER_QUERY_GRPC_PORT = 16685;

/**
 * Jaeger v2's configuration for the AppHost: in-memory storage, the OTLP/HTTP receiver and the
 * query service (UI and its gRPC API) on 127.0.0.1 only — Jaeger's own defaults listen on every
 * interface (or follow JAEGER_LISTEN_HOST) and on about fifteen ports — no self-tracing and no
 * metrics listener. Jaeger has no login: whoever can reach 127.0.0.1 can read the traces.
 */
export const JAEGER_CONFIG = `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: info
extensions:
  jaeger_storage:
    backends:
      apphost_memory:
        memory:
          max_traces: 100000
  jaeger_query:
    storage:
      traces: apphost_memory
    enable_tracing: false
    http:
      endpoint: 127.0.0.1:${JAEGER_UI_PORT}
    grpc:
      endpoint: 127.0.0.1:${JAEGER_QUERY_GRPC_PORT}
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${JAEGER_OTLP_HTTP_PORT}
processors:
  batch: {}
exporters:
  jaeger_storage_exporter:
    trace_storage: apphost_memory
`;

export function findOnPath(name: string, searchPath = process.env.PATH ?? ""): string | undefined {
  for (const directory of searchPath.split(path.delimiter)) {
    if (directory === "") continue;
    const candidate = path.join(directory, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface JaegerOptions {
  logs: LogSink;
  /** Messages about Jaeger for the AppHost's console. */
  say: (message: string) => void;
  searchPath?: string;
  readyTimeoutMs?: number;
}

/**
 * Process mode's Jaeger: when a `jaeger` binary (Jaeger v2, all-in-one by default) is on PATH the
 * AppHost runs it in its own process group, lists it among the dashboard's resources and copies
 * the OTLP traces it receives to it. Without the binary, or with its ports taken, it is skipped:
 * the built-in dashboard needs no Jaeger.
 */
export class JaegerProcess implements ExtraResource {
  readonly name = "jaeger";
  readonly kind = "jaeger";
  readonly otlpEndpoint = `http://127.0.0.1:${JAEGER_OTLP_HTTP_PORT}`;
  readonly uiUrl = `http://127.0.0.1:${JAEGER_UI_PORT}`;
  private readonly startedAt = new Date().toISOString();

  private constructor(
    private readonly child: ManagedProcess,
    readonly logFile: string,
    private readonly configDir: string,
  ) {}

  static async start(options: JaegerOptions): Promise<JaegerProcess | undefined> {
    const binary = findOnPath("jaeger", options.searchPath);
    if (!binary) {
      options.say("jaeger: no `jaeger` binary on PATH; skipped (the dashboard shows traces on its own)");
      return undefined;
    }
    for (const port of [JAEGER_UI_PORT, JAEGER_OTLP_HTTP_PORT, JAEGER_QUERY_GRPC_PORT]) {
      if (!(await isPortFree(port))) {
        options.say(`jaeger: port ${port} is taken; skipped`);
        return undefined;
      }
    }
    options.logs.register("jaeger");
    const configDir = fs.mkdtempSync(path.join(os.tmpdir(), "outbox-apphost-jaeger-"));
    const config = path.join(configDir, "config.yaml");
    fs.writeFileSync(config, JAEGER_CONFIG, { mode: 0o600 });
    const child = new ManagedProcess(
      "jaeger",
      {
        command: binary,
        args: ["--config", config],
        cwd: configDir,
        // Not the AppHost's environment (credentials, tokens): the basics only.
        env: childEnvironment({ JAEGER_LISTEN_HOST: "127.0.0.1" }),
      },
      options.logs,
    );
    const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
    while (!(await isPortOpen(JAEGER_UI_PORT)) || !(await isPortOpen(JAEGER_OTLP_HTTP_PORT))) {
      if (!child.running || Date.now() > deadline) {
        options.say(
          `jaeger: ${binary} did not open ports ${JAEGER_UI_PORT}/${JAEGER_OTLP_HTTP_PORT}; skipped`,
        );
        await child.stop("SIGTERM", 5000);
        fs.rmSync(configDir, { recursive: true, force: true });
        return undefined;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const jaeger = new JaegerProcess(child, options.logs.fileOf("jaeger"), configDir);
    options.say(`jaeger: ${binary} running, UI ${jaeger.uiUrl}; traces are copied to it`);
    return jaeger;
  }

  snapshot() {
    const running = this.child.running;
    return {
      name: this.name,
      kind: this.kind,
      state: running ? "Running" : "Exited",
      health: running ? "Healthy" : "Unknown",
      pid: running ? (this.child.pid ?? null) : null,
      endpoints: { ui: this.uiUrl, otlp: this.otlpEndpoint },
      logFile: this.logFile,
      dependsOn: [],
      startedAt: this.startedAt,
    };
  }

  async stop(): Promise<void> {
    await this.child.stop("SIGTERM", 10_000);
    fs.rmSync(this.configDir, { recursive: true, force: true });
  }
}
