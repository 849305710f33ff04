import type { AppBuilder } from "../../model/app-builder.js";
import { ArtemisResource } from "../../model/artemis.js";
import { ContainerResource } from "../../model/container.js";
import { DockerfileResource } from "../../model/dockerfile.js";
import { PostgresServerResource } from "../../model/postgres.js";
import { imageAvailability } from "./docker-objects.js";
import { chooseImage, OFFICIAL_IMAGES, type ImageChoice } from "./images.js";

export interface RequiredImage extends ImageChoice {
  resource: string;
}

/** The image each container resource of the model would run, after overrides. */
export function requiredImages(model: AppBuilder, env: NodeJS.ProcessEnv = process.env): RequiredImage[] {
  const images: RequiredImage[] = [];
  for (const resource of model.resources()) {
    if (resource instanceof PostgresServerResource) {
      const choice = chooseImage(
        {
          resource: resource.name,
          kind: "postgres",
          model: resource.image,
          fallback: OFFICIAL_IMAGES.postgres,
        },
        env,
      );
      images.push({ resource: resource.name, ...choice });
    } else if (resource instanceof ArtemisResource) {
      const choice = chooseImage(
        {
          resource: resource.name,
          kind: "artemis",
          model: resource.image,
          fallback: OFFICIAL_IMAGES.artemis,
        },
        env,
      );
      images.push({ resource: resource.name, ...choice });
    } else if (resource instanceof ContainerResource && !(resource instanceof DockerfileResource)) {
      // A Dockerfile resource's image is built at its start, never pulled.
      images.push({
        resource: resource.name,
        ...chooseImage({ resource: resource.name, fallback: resource.image }, env),
      });
    }
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
  'build look-alike images with `npm run images` and use them with `eval "$(npm run -s images)"` (exports APPHOST_IMAGE_POSTGRES and APPHOST_IMAGE_ARTEMIS)';
