import path from "node:path";
import type { ExecutableResource } from "../../model/executable.js";
import type { ResourceProvider, StartContext, StartedResource } from "../../runtime/provider.js";
import { allocateHttpEndpoint, HOST, launchHostProcess, referencesEnvironment } from "./host-process.js";

/** Runs an `addExecutable` resource as a child process in its own process group, with the injected environment. */
export class ExecutableProcessProvider implements ResourceProvider<ExecutableResource> {
  async start(resource: ExecutableResource, context: StartContext): Promise<StartedResource> {
    const endpoints: Record<string, string> = {};
    const env: Record<string, string> = { ...context.extraEnvironment };
    if (resource.httpEndpoint) {
      const endpoint = await allocateHttpEndpoint(context, resource.name, resource.httpEndpoint.port);
      endpoints.http = endpoint.url;
      env.PORT = String(endpoint.port);
      env.HOST = HOST;
    }
    Object.assign(
      env,
      referencesEnvironment(resource.references, context, resource.name, (db) => resource.databaseRole(db)),
    );
    for (const [key, value] of resource.environment) env[key] = value;

    return launchHostProcess(
      {
        instance: resource.name,
        command: resource.command,
        args: resource.args,
        cwd: path.resolve(context.rootDir, resource.workingDirectory ?? "."),
        injected: env,
        endpoints,
        healthUrl:
          resource.healthCheckPath && endpoints.http ? endpoints.http + resource.healthCheckPath : undefined,
        stopTimeoutMs: 10_000,
      },
      context,
    );
  }
}
