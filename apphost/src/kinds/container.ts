import type { ContainerResource } from "../model/container.js";
import {
  defineResourceKind,
  lazyProvider,
  type KindImage,
  type KindProviderContext,
} from "./resource-kind.js";

/** Any image (`addContainer`): container mode only, there is no process to run it as. */
export const containerKind = defineResourceKind<ContainerResource>({
  name: "container",
  containerProvider: genericContainerProvider,
  images: containerImages,
});

/** The image a container resource pulls: none for one built from a Dockerfile. */
export function containerImages(resource: ContainerResource): KindImage[] {
  const image = resource.pulledImage();
  return image === undefined ? [] : [{ fallback: image }];
}

/** Runs a ContainerResource as it is declared: its image, endpoints, volumes and readiness. */
export function genericContainerProvider({ owner }: KindProviderContext) {
  return lazyProvider<ContainerResource>(
    async () =>
      new (await import("../providers/container/generic-container.js")).GenericContainerProvider(owner),
  );
}
