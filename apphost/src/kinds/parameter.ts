import type { ParameterResource } from "../model/parameter.js";
import { ParameterProvider } from "../runtime/parameters.js";
import { defineResourceKind } from "./resource-kind.js";

/** A value from outside the model: resolved the same way in every mode, no process. */
export const parameterKind = defineResourceKind<ParameterResource>({
  name: "parameter",
  processProvider: () => new ParameterProvider(),
  containerProvider: () => new ParameterProvider(),
  secrets: (parameter, started) => (parameter.secret && started?.value !== undefined ? [started.value] : []),
  // A secret's value is never shown, not even in state.json.
  snapshotFields: (parameter, started) => ({
    parameter:
      parameter.secret || started?.value === undefined
        ? { secret: parameter.secret }
        : { secret: false, value: started.value },
  }),
});
