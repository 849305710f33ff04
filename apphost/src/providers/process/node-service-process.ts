import path from "node:path";
import type { NodeServiceResource } from "../../model/node-service.js";
import { referenceEnvironment, serviceDiscoveryEnvironment } from "../../runtime/environment.js";
import { childEnvironment } from "../../runtime/child-environment.js";
import { ManagedProcess } from "../../runtime/managed-process.js";
import { choosePort } from "../../runtime/ports.js";
import type { ResourceProvider, StartContext, StartedResource } from "../../runtime/provider.js";

const HOST = "127.0.0.1";

/** The loader services run with: TypeScript through tsx. */
export const SERVICE_LOADER_ARGS = ["--import", "tsx"];

/** Node arguments every service starts with: its loader, telemetry hooks before anything loads. */
export const SERVICE_NODE_ARGS = [...SERVICE_LOADER_ARGS, "--import", "@outbox/service-defaults/instrument"];

/** Runs a service folder's entry point as a child Node process with the injected environment. */
export class NodeServiceProcessProvider implements ResourceProvider<NodeServiceResource> {
  async start(resource: NodeServiceResource, context: StartContext): Promise<StartedResource> {
    const endpoints: Record<string, string> = {};
    // A replica keeps its own port across restarts, under its own name.
    const instance = context.replica?.name ?? resource.name;
    let port: number | undefined;
    if (resource.httpEndpoint) {
      const fixed = context.replica ? undefined : resource.httpEndpoint.port;
      port = fixed ?? (await choosePort(context.settings.port(instance, "http")));
      context.settings.setPort(instance, "http", port);
      await context.settings.save();
      endpoints.http = `http://${HOST}:${port}`;
    }

    // What the AppHost adds on top of its own environment (kept apart for the dashboard).
    const env: Record<string, string> = {
      ...context.extraEnvironment,
      NODE_ENV: process.env.NODE_ENV ?? "development",
    };
    for (const reference of resource.references) {
      const target = context.lookup(reference.name);
      if (target.value !== undefined) env[`Parameters__${reference.name}`] = target.value;
      else if (target.connection)
        Object.assign(env, referenceEnvironment(reference.connectionName, target.connection, resource.name));
      else Object.assign(env, serviceDiscoveryEnvironment(reference.name, target.endpoints));
    }
    // The service's admin API token: generated once per service, kept in settings.json (0600); the
    // dashboard reads it from here for its replay buttons and messaging view.
    env.ADMIN_TOKEN = context.settings.secret(resource.name, "admin-token");
    // The service stops by itself if this AppHost dies without stopping it (apphost-watch.ts).
    env.APPHOST_PID = String(process.pid);
    await context.settings.save();
    if (port !== undefined) {
      env.PORT = String(port);
      env.HOST = HOST;
    }
    for (const [key, value] of resource.environment) env[key] = value;
    for (const [key, parameter] of resource.parameterEnvironment) {
      const value = context.lookup(parameter.name).value;
      if (value === undefined) throw new Error(`Parameter "${parameter.name}" has no value`);
      env[key] = value;
    }

    const cwd = resource.resolveDirectory(context.rootDir);
    const child = new ManagedProcess(
      instance,
      {
        command: process.execPath,
        args: [...SERVICE_NODE_ARGS, path.join(cwd, resource.entryPoint)],
        cwd,
        env: childEnvironment(env),
      },
      context.logs,
    );

    const healthUrl =
      resource.healthCheckPath && endpoints.http ? endpoints.http + resource.healthCheckPath : undefined;
    return {
      get pid() {
        return child.pid;
      },
      endpoints,
      connection: undefined,
      environment: env,
      exited: child.exited,
      checkHealth: async () => {
        if (!child.running) return { healthy: false, detail: "not running" };
        if (!healthUrl) return { healthy: true };
        return httpProbe(healthUrl);
      },
      stop: async () => void (await child.stop("SIGTERM", 15_000)),
      kill: async () => void (await child.kill()),
    };
  }
}

async function httpProbe(url: string): Promise<{ healthy: boolean; detail?: string }> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(3000) });
    const body = await response.text();
    return response.ok
      ? { healthy: true }
      : { healthy: false, detail: `${response.status} ${body.slice(0, 500)}` };
  } catch (error) {
    return { healthy: false, detail: (error as Error).message };
  }
}
