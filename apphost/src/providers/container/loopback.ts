import { PostgreSqlContainer } from "@testcontainers/postgresql";
import { GenericContainer } from "testcontainers";

/**
 * The AppHost publishes every port on 127.0.0.1 of the engine's machine, so that is where its
 * readiness checks must connect. Left alone, testcontainers connects to the bridge gateway
 * (172.17.0.1) whenever /.dockerenv exists, as it does on machines that run dockerd inside a
 * container: the checks were refused and every start timed out. A remote engine (DOCKER_HOST
 * tcp://) and a user's own TESTCONTAINERS_HOST_OVERRIDE keep their meaning. Must run before the
 * first getContainerRuntimeClient(): testcontainers caches the host it resolves.
 */
export function connectThroughLoopback(env: NodeJS.ProcessEnv = process.env): void {
  if (env.TESTCONTAINERS_HOST_OVERRIDE !== undefined) return;
  if (env.DOCKER_HOST !== undefined && !env.DOCKER_HOST.startsWith("unix:")) return;
  env.TESTCONTAINERS_HOST_OVERRIDE = "127.0.0.1";
}

/**
 * Testcontainers publishes ports on every host interface; the AppHost's infrastructure must be
 * reachable from this machine only. Just before the container is created, every port binding gets
 * HostIp 127.0.0.1.
 */
function publishOnLoopback(hostConfig: { PortBindings?: Record<string, Array<{ HostIp?: string }>> }): void {
  for (const bindings of Object.values(hostConfig.PortBindings ?? {})) {
    for (const binding of bindings) binding.HostIp = "127.0.0.1";
  }
}

export class LoopbackGenericContainer extends GenericContainer {
  constructor(image: string) {
    connectThroughLoopback();
    super(image);
  }

  protected override beforeContainerCreated(): Promise<void> {
    publishOnLoopback(this.hostConfig);
    return Promise.resolve();
  }
}

export class LoopbackPostgreSqlContainer extends PostgreSqlContainer {
  constructor(image: string) {
    connectThroughLoopback();
    super(image);
  }

  protected override beforeContainerCreated(): Promise<void> {
    publishOnLoopback(this.hostConfig);
    return Promise.resolve();
  }
}
