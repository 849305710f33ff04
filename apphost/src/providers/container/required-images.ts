import type { AppBuilder } from "../../model/app-builder.js";
import { imageAvailability } from "./docker-objects.js";
import { chooseImage, type ImageChoice } from "./images.js";

export interface RequiredImage extends ImageChoice {
  resource: string;
}

/**
 * The image each resource of the model would pull in container mode, after overrides: whatever its
 * kind module's `images` hook names, so a kind declared outside this package is checked too.
 */
export function requiredImages(model: AppBuilder, env: NodeJS.ProcessEnv = process.env): RequiredImage[] {
  const images: RequiredImage[] = [];
  for (const resource of model.resources()) {
    for (const wanted of resource.kindModule.images?.(resource) ?? [])
      images.push({ resource: resource.name, ...chooseImage({ resource: resource.name, ...wanted }, env) });
  }
  return images;
}

/** The required images that are neither present nor pullable, each with the engine's reason. */
export async function missingImages(model: AppBuilder): Promise<Array<RequiredImage & { reason: string }>> {
  const missing: Array<RequiredImage & { reason: string }> = [];
  const checked = new Map<string, Awaited<ReturnType<typeof imageAvailability>>>();
  for (const required of requiredImages(model)) {
    let availability = checked.get(required.image);
    if (!availability) {
      availability = await imageAvailability(required.image);
      checked.set(required.image, availability);
    }
    if (!availability.available) missing.push({ ...required, reason: availability.reason });
  }
  return missing;
}

/** The one line that says how to get images on a machine without a registry. */
export const LOCAL_IMAGES_HINT =
  'build look-alike images with `npm run images` and use them with `eval "$(npm run -s images)"` (exports APPHOST_IMAGE_POSTGRES, APPHOST_IMAGE_ARTEMIS and APPHOST_IMAGE_KAFKA)';
