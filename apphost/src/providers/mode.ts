import { probeContainerRuntime } from "./container/container-runtime.js";

export type ProviderMode = "auto" | "process" | "container";

export class ModeError extends Error {}

/**
 * Decides how infrastructure runs. `auto` uses containers when an engine answers and the container
 * provider can serve the model, else local processes; `container` fails clearly when it can't.
 */
export async function resolveMode(
  requested: ProviderMode,
  log: (message: string) => void,
): Promise<"process"> {
  if (requested === "process") return "process";
  const probe = await probeContainerRuntime();
  if (requested === "container") {
    if (!probe.available) {
      throw new ModeError(
        `--mode container: no container runtime answers (${probe.reason}). Use --mode process or start Docker.`,
      );
    }
    throw new ModeError(
      "--mode container: a container engine answers, but this AppHost has no container provider yet; use --mode process (or auto).",
    );
  }
  log(
    probe.available
      ? `container runtime found (${probe.description}), but the container provider is not available yet: using local processes`
      : `no container runtime (${probe.reason}): using local processes`,
  );
  return "process";
}
