import { PostgreSqlContainer } from "@testcontainers/postgresql";
import { GenericContainer } from "testcontainers";

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
  protected override beforeContainerCreated(): Promise<void> {
    publishOnLoopback(this.hostConfig);
    return Promise.resolve();
  }
}

export class LoopbackPostgreSqlContainer extends PostgreSqlContainer {
  protected override beforeContainerCreated(): Promise<void> {
    publishOnLoopback(this.hostConfig);
    return Promise.resolve();
  }
}
