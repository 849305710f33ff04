import type { NodeAppResource } from "../model/node-app.js";
import { defineResourceKind, lazyProvider } from "./resource-kind.js";

/** A Node app (and an npm script): a host process in every mode, as Aspire runs projects. */
export const nodeAppKind = defineResourceKind<NodeAppResource>({
  name: "node-app",
  processProvider: nodeAppProvider,
  containerProvider: nodeAppProvider,
});

/** The provider of Node apps and services (one launcher, see providers/process/host-process.ts). */
export function nodeAppProvider() {
  return lazyProvider<NodeAppResource>(
    async () => new (await import("../providers/process/node-service-process.js")).NodeAppProcessProvider(),
  );
}
