export type ContainerRuntimeProbe =
  { available: true; description: string } | { available: false; reason: string };

/**
 * Asks testcontainers whether a container engine answers. Without one it fails within
 * milliseconds ("Could not find a working container runtime strategy"), which is what makes
 * `--mode auto` cheap on machines without Docker.
 */
export async function probeContainerRuntime(timeoutMs = 5000): Promise<ContainerRuntimeProbe> {
  process.env.TESTCONTAINERS_RYUK_DISABLED ??= "true";
  try {
    const { getContainerRuntimeClient } = await import("testcontainers");
    const client = await Promise.race([
      getContainerRuntimeClient(),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs).unref(),
      ),
    ]);
    return {
      available: true,
      description: `${client.info.containerRuntime.host} (${client.info.node.version ?? "engine"})`,
    };
  } catch (error) {
    return { available: false, reason: (error as Error).message };
  }
}
