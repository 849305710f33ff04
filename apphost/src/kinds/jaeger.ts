import type { JaegerResource } from "../model/jaeger.js";
import { containerImages, genericContainerProvider } from "./container.js";
import { defineResourceKind } from "./resource-kind.js";

/** Jaeger: a container like any other, a kind of its own so that the CLI finds its OTLP endpoint. */
export const jaegerKind = defineResourceKind<JaegerResource>({
  name: "jaeger",
  containerProvider: genericContainerProvider,
  images: containerImages,
});
