import { imageAvailability, runtimeClient } from "./docker-objects.js";

export type ContainerRuntimeProbe =
  { available: true; description: string } | { available: false; reason: string };

/**
 * Asks testcontainers whether a container engine answers. Without one it fails within
 * milliseconds ("Could not find a working container runtime strategy"), which is what makes
 * `--mode auto` cheap on machines without Docker.
 */
export async function probeContainerRuntime(timeoutMs = 5000): Promise<ContainerRuntimeProbe> {
  try {
    const client = await Promise.race([
      runtimeClient(),
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

/** testcontainers' reaper image (its default unless RYUK_CONTAINER_IMAGE names another). */
export const RYUK_IMAGE = process.env.RYUK_CONTAINER_IMAGE ?? "testcontainers/ryuk:0.14.0";

/**
 * Ryuk removes a session's containers when the process that started them dies. Where its image can
 * be neither found nor pulled, it is disabled (testcontainers would fail every start) and the
 * AppHost's own clean-up by label covers the same case at the next start.
 */
export async function configureRyuk(log: (message: string) => void): Promise<void> {
  if (process.env.TESTCONTAINERS_RYUK_DISABLED !== undefined) return;
  const availability = await imageAvailability(RYUK_IMAGE);
  if (availability.available) return;
  process.env.TESTCONTAINERS_RYUK_DISABLED = "true";
  log(
    `Ryuk (${RYUK_IMAGE}) is not available: containers left by a killed AppHost are removed at its next start`,
  );
}
