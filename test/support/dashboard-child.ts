// The AppHost's dashboard alone in a process of its own, with a fake application behind it: the
// fuzz test attacks it over raw sockets and watches whether the process survives.
import os from "node:os";
import path from "node:path";
import { outboxMessaging } from "../../apphost/src/dashboard/contributions/outbox-messaging/index.js";
import { DashboardServer } from "../../apphost/src/dashboard/dashboard-server.js";
import { LogSink } from "../../apphost/src/runtime/log-sink.js";

const directory = path.join(os.tmpdir(), `dashboard-fuzz-${process.pid}`);
const dashboard = new DashboardServer({
  port: 0,
  secrets: { loginToken: "l".repeat(48), otlpApiKey: "k".repeat(48), toolToken: "b".repeat(48) },
  telemetryDir: path.join(directory, "telemetry"),
  requestTimeoutMs: 2000,
  headersTimeoutMs: 1500,
  log: (message) => process.stdout.write(`dashboard | ${message}\n`),
});
await dashboard.listen();
const logs = new LogSink({ directory, console: false });
dashboard.attach({
  logs,
  snapshot: () => [
    {
      name: "sender",
      kind: "node-service",
      state: "Running",
      health: "Healthy",
      pid: null,
      endpoints: { http: "http://127.0.0.1:9" },
      logFile: path.join(directory, "sender.log"),
      dependsOn: [],
    },
  ],
  startResource: async () => {},
  stopResource: async () => {},
  restartResource: async () => {},
  // The outbox contribution's routes (messaging, replay, journey) are fuzzed with the rest.
  model: { dashboardContributions: () => [outboxMessaging({ services: [{ name: "sender" }] })] },
});
process.stdout.write(`LISTENING ${dashboard.url} ${dashboard.browserUrl}\n`);
