// Telemetry on, as `npm run apphost` runs: a dashboard (OTLP/HTTP JSON intake, memory-only store)
// in this process, and the services restarted with the OTLP variables the AppHost injects. The
// bench starts with telemetry off (no endpoint: the services register no SDK at all), so the
// same stack measures both.
import type { DistributedApplication, NodeServiceResource } from "@outbox/apphost";
import { DashboardServer } from "../../apphost/src/dashboard/dashboard-server.js";
import { generateSecrets } from "../../apphost/src/dashboard/auth.js";
import { telemetryEnvironment } from "../../apphost/src/runtime/environment.js";

export interface TelemetryHandle {
  dashboard: DashboardServer;
  services: NodeServiceResource[];
  keys: string[];
}

async function restart(app: DistributedApplication, services: NodeServiceResource[]): Promise<void> {
  for (const service of services) {
    await app.restartResource(service.name);
    await app.waitForHealthy(service.name);
  }
}

export async function telemetryOn(
  app: DistributedApplication,
  services: NodeServiceResource[],
): Promise<TelemetryHandle> {
  const dashboard = new DashboardServer({ port: 0, secrets: generateSecrets() });
  await dashboard.listen();
  dashboard.attach(app);
  const keys = new Set<string>();
  for (const service of services) {
    const env = telemetryEnvironment({
      serviceName: service.name,
      otlpEndpoint: dashboard.url,
      otlpHeaders: dashboard.otlpHeaders,
      instanceId: `${service.name}-bench`,
    });
    // The model's environment wins over what the runtime injects (see node-service-process.ts).
    for (const [key, value] of Object.entries(env)) {
      service.withEnvironment(key, value);
      keys.add(key);
    }
  }
  await restart(app, services);
  return { dashboard, services, keys: [...keys] };
}

export async function telemetryOff(app: DistributedApplication, handle: TelemetryHandle): Promise<void> {
  for (const service of handle.services) for (const key of handle.keys) service.environment.delete(key);
  await restart(app, handle.services);
  await handle.dashboard.close();
}
