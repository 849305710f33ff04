import { clientsWithoutGrants } from "../artemis/security.js";
import type { ArtemisResource } from "../model/artemis.js";
import { OFFICIAL_IMAGES } from "../providers/container/images.js";
import { defineResourceKind, lazyProvider } from "./resource-kind.js";

/** An ActiveMQ Artemis broker: its binary distribution as a local process, or a container. */
export const artemisKind = defineResourceKind<ArtemisResource>({
  name: "artemis",
  images: (broker) => [{ kind: "artemis", model: broker.image, fallback: OFFICIAL_IMAGES.artemis }],
  processProvider: () =>
    lazyProvider(
      async () => new (await import("../providers/process/artemis-process.js")).ArtemisProcessProvider(),
    ),
  containerProvider: ({ owner }) =>
    lazyProvider(
      async () =>
        new (await import("../providers/container/artemis-container.js")).ArtemisContainerProvider(owner),
    ),
  // A client with no grant is refused every attach: say so before the start, not at its first send.
  warnings: (broker) =>
    clientsWithoutGrants(broker.clients()).map(
      (client) =>
        `"${client}" references "${broker.name}" but is given no address or queue on it; ` +
        `its broker user will be refused every attach (give it one with ${broker.name}.sendsTo() or .consumes())`,
    ),
});
