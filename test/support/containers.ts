import { runtimeClient } from "../../apphost/src/providers/container/docker-objects.js";

export interface InspectedContainer {
  running: boolean;
  labels: Record<string, string>;
  bindings: Array<{ hostIp: string; hostPort: number }>;
  /** Named volumes mounted into the container. */
  volumes: string[];
}

/** What the engine says about a container (tests check labels, published ports and volumes). */
export async function inspectContainer(id: string): Promise<InspectedContainer> {
  const docker = (await runtimeClient()).container.dockerode;
  const info = await docker.getContainer(id).inspect();
  const published = (info.HostConfig.PortBindings ?? {}) as Record<
    string,
    Array<{ HostIp: string; HostPort: string }> | null
  >;
  const bindings = Object.values(published).flatMap((list) =>
    (list ?? []).map((b) => ({
      hostIp: b.HostIp,
      hostPort: Number(b.HostPort),
    })),
  );
  return {
    running: info.State.Running,
    labels: info.Config.Labels ?? {},
    bindings,
    volumes: info.Mounts.filter((m) => m.Type === "volume" && m.Name).map((m) => m.Name ?? ""),
  };
}
