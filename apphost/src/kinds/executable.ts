import type { ExecutableResource } from "../model/executable.js";
import { defineResourceKind, lazyProvider } from "./resource-kind.js";

/** Any program on the host: a host process in every mode. */
export const executableKind = defineResourceKind<ExecutableResource>({
  name: "executable",
  processProvider: executableProvider,
  containerProvider: executableProvider,
});

function executableProvider() {
  return lazyProvider<ExecutableResource>(
    async () => new (await import("../providers/process/executable-process.js")).ExecutableProcessProvider(),
  );
}
