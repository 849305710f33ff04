// The AppHost dashboard alone in its own process, as `npm run apphost` runs it beside the
// services: the bench's telemetry-on phase points the services' OTLP exporters here, so the
// intake's CPU is the dashboard's own and not the load generator's. Prints one JSON line with
// its URL and OTLP headers, then serves until SIGTERM.
import { DashboardServer } from "../../apphost/src/dashboard/dashboard-server.js";
import { generateSecrets } from "../../apphost/src/dashboard/auth.js";

const dashboard = new DashboardServer({ port: 0, secrets: generateSecrets() });
await dashboard.listen();
process.stdout.write(`${JSON.stringify({ url: dashboard.url, otlpHeaders: dashboard.otlpHeaders })}\n`);
const stop = () => {
  void dashboard.close().finally(() => process.exit(0));
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
