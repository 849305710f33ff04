import type { ReferenceTarget } from "../../model/resource.js";
import { childEnvironment } from "../../runtime/child-environment.js";
import {
  referenceEnvironment,
  serviceDiscoveryEnvironment,
  type DatabaseRole,
} from "../../runtime/environment.js";
import { ManagedProcess } from "../../runtime/managed-process.js";
import { choosePort } from "../../runtime/ports.js";
import type { StartContext, StartedResource } from "../../runtime/provider.js";

export const HOST = "127.0.0.1";

/**
 * The HTTP endpoint of one host process: a fixed port, or a free one kept across runs under the
 * instance's name (a replica keeps its own).
 */
export async function allocateHttpEndpoint(
  context: StartContext,
  instance: string,
  fixedPort: number | undefined,
): Promise<{ port: number; url: string }> {
  const port = fixedPort ?? (await choosePort(context.settings.port(instance, "http")));
  context.settings.setPort(instance, "http", port);
  await context.settings.save();
  return { port, url: `http://${HOST}:${port}` };
}

/**
 * What `client` gets for its references, in Aspire's conventions: a parameter's value as
 * `Parameters__<name>`, a connection as `ConnectionStrings__<name>` and `<NAME>_*`, another
 * resource's endpoints as `services__<name>__<scheme>__0`. A database's credentials are those of the
 * role `roleOf` names for it.
 */
export function referencesEnvironment(
  references: readonly ReferenceTarget[],
  context: StartContext,
  client: string,
  roleOf: (database: string) => DatabaseRole,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const reference of references) {
    const target = context.lookup(reference.name);
    if (target.value !== undefined) env[`Parameters__${reference.name}`] = target.value;
    else if (target.connection)
      Object.assign(
        env,
        referenceEnvironment(
          reference.connectionName,
          target.connection,
          client,
          target.connection.migrationsUri === undefined ? "runtime" : roleOf(reference.name),
        ),
      );
    else Object.assign(env, serviceDiscoveryEnvironment(reference.name, target.endpoints));
  }
  return env;
}

export interface HostProcessSpec {
  /** The resource or replica name: the log stream and the process's name in messages. */
  instance: string;
  command: string;
  args: string[];
  cwd: string;
  /** What the AppHost injects; the child gets it on top of the filtered basics (child-environment.ts). */
  injected: Record<string, string>;
  endpoints: Record<string, string>;
  /** Healthy = this URL answers 2xx; without one, healthy while running. */
  healthUrl: string | undefined;
  /** How long a stop waits after SIGTERM before killing the process group. */
  stopTimeoutMs: number;
}

/**
 * Starts a program on the host in its own process group, the one launcher of Node apps, services
 * and executables: same environment filtering, same logs, same health probe, same stop and kill.
 */
export function launchHostProcess(spec: HostProcessSpec, context: StartContext): StartedResource {
  const child = new ManagedProcess(
    spec.instance,
    { command: spec.command, args: spec.args, cwd: spec.cwd, env: childEnvironment(spec.injected) },
    context.logs,
  );
  const healthUrl = spec.healthUrl;
  return {
    get pid() {
      return child.pid;
    },
    endpoints: spec.endpoints,
    connection: undefined,
    environment: spec.injected,
    exited: child.exited,
    checkHealth: async () => {
      if (!child.running) return { healthy: false, detail: "not running" };
      if (!healthUrl) return { healthy: true };
      return httpProbe(healthUrl);
    },
    stop: async () => void (await child.stop("SIGTERM", spec.stopTimeoutMs)),
    kill: async () => void (await child.kill()),
  };
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
