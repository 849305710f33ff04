import path from "node:path";
import { Wait, type WaitStrategy } from "testcontainers";
import type { ContainerResource } from "../../model/container.js";
import { DockerfileResource } from "../../model/dockerfile.js";
import { choosePort, isPortOpen } from "../../runtime/ports.js";
import type { ResourceProvider, StartContext, StartedResource } from "../../runtime/provider.js";
import { ensureVolume, labelsFor, volumeName, type Owner } from "./docker-objects.js";
import { ensureBuiltImage } from "./dockerfile-build.js";
import { chooseImage } from "./images.js";
import { LoopbackGenericContainer } from "./loopback.js";
import { containerResource, logConsumer } from "./started-container.js";

const HOST = "127.0.0.1";

/**
 * Runs an `addContainer`, `addDockerfile` (or Jaeger) resource: endpoints on 127.0.0.1, named
 * volumes, bind mounts, readiness. Each replica is a container of its own, with its own ports and
 * volumes kept under the replica's name.
 */
export class GenericContainerProvider implements ResourceProvider<ContainerResource> {
  constructor(private readonly owner: Owner) {}

  async start(resource: ContainerResource, context: StartContext): Promise<StartedResource> {
    // A replica keeps its own ports and volumes across restarts, under its own name.
    const instance = context.replica?.name ?? resource.name;
    const { image, source } =
      resource instanceof DockerfileResource
        ? await this.builtImage(resource, context)
        : chooseImage({ resource: resource.name, fallback: resource.image });
    const ports = new Map<string, number>();
    for (const endpoint of resource.endpoints) {
      const port = await choosePort(context.settings.port(instance, endpoint.name));
      context.settings.setPort(instance, endpoint.name, port);
      ports.set(endpoint.name, port);
    }
    await context.settings.save();
    const mounts: Array<{ source: string; target: string; mode?: "rw" | "ro" }> = [];
    for (const volume of resource.volumes) {
      const name = volumeName(this.owner, instance, volume.name);
      await ensureVolume(this.owner, instance, name);
      mounts.push({ source: name, target: volume.target });
    }
    for (const bind of resource.bindMounts) {
      mounts.push({
        source: path.resolve(context.rootDir, bind.source),
        target: bind.target,
        mode: bind.readOnly ? "ro" : "rw",
      });
    }
    const endpoints = Object.fromEntries(
      resource.endpoints.map((e) => [e.name, `${e.scheme}://${HOST}:${ports.get(e.name)}`]),
    );
    context.log(
      `image ${image} (${source})${Object.keys(endpoints).length ? `, ${Object.values(endpoints).join(" ")}` : ""}`,
    );

    // Parameters only (ContainerResource.withReference refuses anything a container cannot reach).
    const parameters: Record<string, string> = {};
    for (const parameter of resource.references) {
      const value = context.lookup(parameter.name).value;
      if (value === undefined) throw new Error(`Parameter "${parameter.name}" has no value`);
      parameters[`Parameters__${parameter.name}`] = value;
    }
    let builder = new LoopbackGenericContainer(image)
      .withEnvironment({ ...parameters, ...Object.fromEntries(resource.environment) })
      .withExposedPorts(
        ...resource.endpoints.map((e) => ({ container: e.targetPort, host: ports.get(e.name) ?? 0 })),
      )
      .withBindMounts(mounts)
      .withLabels(labelsFor(this.owner, resource.name))
      .withLogConsumer(logConsumer(context.logs, instance))
      .withWaitStrategy(waitStrategy(resource))
      .withStartupTimeout(120_000);
    if (resource.args) builder = builder.withCommand(resource.args);
    const container = await builder.start();

    const readiness = resource.readiness;
    const healthUrl =
      readiness?.kind === "http" && endpoints[readiness.endpoint] !== undefined
        ? `${endpoints[readiness.endpoint]}${readiness.path}`.replace(/^https?/, (s) =>
            s === "https" ? "https" : "http",
          )
        : undefined;
    return containerResource({
      container,
      image,
      endpoints,
      connection: undefined,
      checkHealth: async () => {
        if (healthUrl) return httpProbe(healthUrl);
        if (readiness?.kind === "port") {
          for (const [name, port] of ports)
            if (!(await isPortOpen(port, HOST)))
              return { healthy: false, detail: `${name} port not accepting` };
        }
        return { healthy: true };
      },
      stopTimeoutSeconds: 10,
    });
  }

  /** Builds (or finds) the resource's image. */
  private async builtImage(
    resource: DockerfileResource,
    context: StartContext,
  ): Promise<{ image: string; source: string }> {
    const started = Date.now();
    const result = await ensureBuiltImage(resource, {
      rootDir: context.rootDir,
      appName: this.owner.appName,
      // One build serves every replica: its output goes to the resource's own log.
      log: (line) => context.logs.write(resource.name, "apphost", `[apphost] build: ${line}`),
    });
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    return { image: result.image, source: result.built ? `built in ${seconds}s` : `already built` };
  }
}

function waitStrategy(resource: ContainerResource): WaitStrategy {
  const readiness = resource.readiness;
  if (!readiness) return Wait.forListeningPorts();
  if (readiness.kind === "log") return Wait.forLogMessage(readiness.pattern, readiness.times);
  if (readiness.kind === "port") return Wait.forListeningPorts();
  const endpoint = resource.endpoints.find((e) => e.name === readiness.endpoint);
  if (!endpoint)
    throw new Error(`"${resource.name}" has no endpoint "${readiness.endpoint}" for its health check`);
  return Wait.forHttp(readiness.path, endpoint.targetPort).forStatusCodeMatching(
    (code) => code >= 200 && code < 300,
  );
}

async function httpProbe(url: string): Promise<{ healthy: boolean; detail?: string }> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(3000) });
    await response.arrayBuffer();
    return response.ok ? { healthy: true } : { healthy: false, detail: `HTTP ${response.status}` };
  } catch (error) {
    return { healthy: false, detail: (error as Error).message };
  }
}
