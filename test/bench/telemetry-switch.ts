// Telemetry on, as `npm run apphost` runs: the AppHost dashboard (OTLP/HTTP JSON intake) in a
// process of its own, and the services restarted with the OTLP variables the AppHost injects.
// The bench starts with telemetry off (no endpoint: the services register no SDK at all), so the
// same stack measures both.
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { DistributedApplication, NodeServiceResource } from "@outbox/apphost";
import { telemetryEnvironment } from "../../apphost/src/runtime/environment.js";

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), "dashboard-child.ts");

export interface TelemetryHandle {
  dashboard: ChildProcess;
  services: NodeServiceResource[];
  keys: string[];
}

async function restart(app: DistributedApplication, services: NodeServiceResource[]): Promise<void> {
  for (const service of services) {
    await app.restartResource(service.name);
    await app.waitForHealthy(service.name);
  }
}

function startDashboard(): Promise<{ child: ChildProcess; url: string; otlpHeaders: string }> {
  const child = spawn(process.execPath, ["--conditions=outbox-source", "--import", "tsx", CHILD], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    let buffer = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error("the dashboard did not start within 60 s"));
    }, 60_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the dashboard exited with code ${code}`));
    });
    child.stdout?.on("data", (chunk: Buffer) => {
      buffer += chunk.toString("utf8");
      const newline = buffer.indexOf("\n");
      if (newline < 0) return;
      clearTimeout(timer);
      const info = JSON.parse(buffer.slice(0, newline)) as { url: string; otlpHeaders: string };
      resolve({ child, ...info });
    });
  });
}

export async function telemetryOn(
  app: DistributedApplication,
  services: NodeServiceResource[],
): Promise<TelemetryHandle> {
  const dashboard = await startDashboard();
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
  try {
    await restart(app, services);
  } catch (error) {
    dashboard.child.kill("SIGTERM");
    throw error;
  }
  return { dashboard: dashboard.child, services, keys: [...keys] };
}

export async function telemetryOff(app: DistributedApplication, handle: TelemetryHandle): Promise<void> {
  for (const service of handle.services) for (const key of handle.keys) service.environment.delete(key);
  await restart(app, handle.services);
  const exited = new Promise<void>((resolve) => {
    if (handle.dashboard.exitCode !== null) resolve();
    else handle.dashboard.once("exit", () => resolve());
  });
  handle.dashboard.kill("SIGTERM");
  await exited;
}
