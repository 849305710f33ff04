import path from "node:path";
import type { ExecutableResource } from "../../model/executable.js";
import { childEnvironment } from "../../runtime/child-environment.js";
import { referenceEnvironment, serviceDiscoveryEnvironment } from "../../runtime/environment.js";
import { ManagedProcess } from "../../runtime/managed-process.js";
import { choosePort } from "../../runtime/ports.js";
import type { ResourceProvider, StartContext, StartedResource } from "../../runtime/provider.js";

const HOST = "127.0.0.1";

/** Runs an `addExecutable` resource as a child process in its own process group, with the injected environment. */
export class ExecutableProcessProvider implements ResourceProvider<ExecutableResource> {
  async start(resource: ExecutableResource, context: StartContext): Promise<StartedResource> {
    const endpoints: Record<string, string> = {};
    const env: Record<string, string> = { ...context.extraEnvironment };
    if (resource.httpEndpoint) {
      const port =
        resource.httpEndpoint.port ?? (await choosePort(context.settings.port(resource.name, "http")));
      context.settings.setPort(resource.name, "http", port);
      await context.settings.save();
      endpoints.http = `http://${HOST}:${port}`;
      env.PORT = String(port);
      env.HOST = HOST;
    }
    for (const reference of resource.references) {
      const target = context.lookup(reference.name);
      Object.assign(
        env,
        target.connection
          ? referenceEnvironment(reference.connectionName, target.connection, resource.name)
          : serviceDiscoveryEnvironment(reference.name, target.endpoints),
      );
    }
    for (const [key, value] of resource.environment) env[key] = value;

    const child = new ManagedProcess(
      resource.name,
      {
        command: resource.command,
        args: resource.args,
        cwd: path.resolve(context.rootDir, resource.workingDirectory ?? "."),
        // Like the services: the basics and what the AppHost injects, not the AppHost's whole environment.
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
        try {
          const response = await fetch(healthUrl, { signal: AbortSignal.timeout(3000) });
          await response.arrayBuffer();
          return response.ok ? { healthy: true } : { healthy: false, detail: `HTTP ${response.status}` };
        } catch (error) {
          return { healthy: false, detail: (error as Error).message };
        }
      },
      stop: async () => void (await child.stop("SIGTERM", 10_000)),
      kill: async () => void (await child.kill()),
    };
  }
}
