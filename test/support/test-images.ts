import { imageAvailability } from "../../apphost/src/providers/container/docker-objects.js";
import {
  imageVariable,
  LOCAL_IMAGES,
  OFFICIAL_IMAGES,
} from "../../apphost/src/providers/container/images.js";
import { LOCAL_IMAGES_HINT } from "../../apphost/src/providers/container/required-images.js";

/**
 * Makes container-mode tests run on any machine with an engine: an APPHOST_IMAGE_* already set
 * wins; else the official image when present or pullable; else the local look-alike from
 * `npm run images`, set in this process's environment (workers and child AppHosts inherit it).
 * Throws, naming what to run, when neither is there.
 */
export async function useAvailableImages(log: (message: string) => void = () => {}): Promise<void> {
  for (const kind of ["postgres", "artemis"] as const) {
    const variable = imageVariable(kind);
    if (process.env[variable]) continue;
    if ((await imageAvailability(OFFICIAL_IMAGES[kind])).available) continue;
    if ((await imageAvailability(LOCAL_IMAGES[kind])).available) {
      process.env[variable] = LOCAL_IMAGES[kind];
      log(`${OFFICIAL_IMAGES[kind]} unavailable, using ${LOCAL_IMAGES[kind]} (${variable})`);
      continue;
    }
    throw new Error(
      `Container-mode tests need ${OFFICIAL_IMAGES[kind]} or ${LOCAL_IMAGES[kind]}: ${LOCAL_IMAGES_HINT}`,
    );
  }
}
