import type { Readable } from "node:stream";
import type { StartedTestContainer } from "testcontainers";
import type { ConnectionInfo } from "../../runtime/environment.js";
import type { LogSink } from "../../runtime/log-sink.js";
import type { ExitInfo } from "../../runtime/managed-process.js";
import type { StartedResource } from "../../runtime/provider.js";
import { runtimeClient } from "./docker-objects.js";

/** Sends a container's output, line by line, to the resource's log (console prefix and log file). */
export function logConsumer(logs: LogSink, resource: string): (stream: Readable) => void {
  return (stream) => logs.pipe(resource, "stdout", stream);
}

export interface ContainerResourceOptions {
  container: StartedTestContainer;
  image: string;
  endpoints: Record<string, string>;
  connection: ConnectionInfo | undefined;
  checkHealth: () => Promise<{ healthy: boolean; detail?: string }>;
  /** Seconds between the stop signal and SIGKILL. */
  stopTimeoutSeconds: number;
}

/**
 * The runtime's view of a started container. Stop and kill both remove the container (its named
 * volume stays): the next start creates a new container on the same volume and host port, which is
 * what clients reconnect to.
 */
export async function containerResource(options: ContainerResourceOptions): Promise<StartedResource> {
  const { container } = options;
  const client = await runtimeClient();
  const docker = client.container.getById(container.getId());
  let running = true;
  // Long-poll on the engine: resolves when the container's main process ends, however it ends.
  const exited: Promise<ExitInfo> = docker.wait().then(
    (result: { StatusCode?: number }) => {
      running = false;
      const code = result.StatusCode ?? null;
      return { code, signal: code === 137 ? "SIGKILL" : null };
    },
    () => {
      running = false;
      return { code: null, signal: null };
    },
  );
  const remove = async () => {
    await docker.remove({ force: true, v: true }).catch((error: { statusCode?: number }) => {
      if (error.statusCode !== 404 && error.statusCode !== 409) throw error;
    });
  };
  return {
    pid: undefined,
    container: { id: container.getId(), image: options.image },
    endpoints: options.endpoints,
    connection: options.connection,
    exited,
    checkHealth: async () =>
      running ? options.checkHealth() : { healthy: false, detail: "container not running" },
    stop: async () => {
      if (running) {
        await container.stop({ timeout: options.stopTimeoutSeconds * 1000, remove: false });
      }
      await exited;
      await remove();
    },
    kill: async () => {
      if (running) {
        await docker.kill({ signal: "SIGKILL" }).catch((error: { statusCode?: number }) => {
          // 409: not running any more.
          if (error.statusCode !== 409 && error.statusCode !== 404) throw error;
        });
      }
      await exited;
      await remove();
    },
  };
}
