import type { NodeAppResource } from "../../model/node-app.js";
import type { ResourceProvider, StartContext, StartedResource } from "../../runtime/provider.js";
import { allocateHttpEndpoint, HOST, launchHostProcess, referencesEnvironment } from "./host-process.js";

export { SERVICE_LOADER_ARGS, SERVICE_NODE_ARGS } from "../../model/node-app.js";

/** Runs a Node app (or service, or npm script) as a child process with the injected environment. */
export class NodeAppProcessProvider implements ResourceProvider<NodeAppResource> {
  async start(resource: NodeAppResource, context: StartContext): Promise<StartedResource> {
    // Resolved first: an app whose entry cannot be found fails before anything is allocated.
    const command = resource.startCommand(context.rootDir);
    const endpoints: Record<string, string> = {};
    // A replica keeps its own port across restarts, under its own name.
    const instance = context.replica?.name ?? resource.name;
    let port: number | undefined;
    if (resource.httpEndpoint) {
      const endpoint = await allocateHttpEndpoint(
        context,
        instance,
        context.replica ? undefined : resource.httpEndpoint.port,
      );
      port = endpoint.port;
      endpoints.http = endpoint.url;
    }

    // What the AppHost adds on top of its own environment (kept apart for the dashboard).
    const env: Record<string, string> = {
      ...context.extraEnvironment,
      NODE_ENV: process.env.NODE_ENV ?? "development",
      ...referencesEnvironment(resource.references, context, resource.name, (db) =>
        resource.databaseRole(db),
      ),
    };
    if (resource.serviceDefaults) {
      // The service's admin API token: generated once per service, kept in settings.json (0600); the
      // dashboard reads it from here for its replay buttons and messaging view.
      env.ADMIN_TOKEN = context.settings.secret(resource.name, "admin-token");
      await context.settings.save();
    }
    // The app stops by itself if this AppHost dies without stopping it (service-defaults' apphost-watch.ts).
    env.APPHOST_PID = String(process.pid);
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

    return launchHostProcess(
      {
        instance,
        ...command,
        injected: env,
        endpoints,
        healthUrl:
          resource.healthCheckPath && endpoints.http ? endpoints.http + resource.healthCheckPath : undefined,
        stopTimeoutMs: 15_000,
      },
      context,
    );
  }
}
