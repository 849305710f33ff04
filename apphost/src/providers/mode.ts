import type { AppBuilder } from "../model/app-builder.js";
import { probeContainerRuntime } from "./container/container-runtime.js";
import { LOCAL_IMAGES_HINT, missingImages } from "./container/required-images.js";

export type ProviderMode = "auto" | "process" | "container";

export class ModeError extends Error {}

/**
 * Decides how infrastructure runs. `auto` uses containers when an engine answers and every image
 * the model needs is present or pullable, else local processes (saying why, in one line);
 * `container` fails with the same reason instead of falling back.
 */
export async function resolveMode(
  requested: ProviderMode,
  log: (message: string) => void,
  model: AppBuilder,
): Promise<"process" | "container"> {
  if (requested === "process") return "process";
  const probe = await probeContainerRuntime();
  if (!probe.available) {
    if (requested === "container") {
      throw new ModeError(
        `--mode container: no container runtime answers (${probe.reason}). Use --mode process or start Docker.`,
      );
    }
    log(`no container runtime (${probe.reason}): using local processes`);
    return "process";
  }
  const missing = await missingImages(model);
  const first = missing[0];
  if (!first) {
    log(`container runtime found (${probe.description}): infrastructure runs in containers`);
    return "container";
  }
  const what = `image ${first.image} (for "${first.resource}", ${first.source}) is not present and cannot be pulled (${first.reason})`;
  if (requested === "container") throw new ModeError(`--mode container: ${what}; ${LOCAL_IMAGES_HINT}.`);
  log(`container runtime found, but ${what}: using local processes; for containers, ${LOCAL_IMAGES_HINT}`);
  return "process";
}
