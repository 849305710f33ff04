import { jaegerKind } from "../kinds/jaeger.js";
import { ContainerResource } from "./container.js";

/** Jaeger v2 (all-in-one by default): the UI and the OTLP/HTTP receiver. */
export const JAEGER_IMAGE = "jaegertracing/jaeger:2.11.0";
export const JAEGER_UI_PORT = 16686;
export const JAEGER_OTLP_HTTP_PORT = 4318;

/**
 * Jaeger as a resource of the model. Optional: the built-in dashboard shows traces on its own; when
 * the model has a Jaeger, the AppHost copies the traces it receives to Jaeger's OTLP endpoint.
 * Like every container resource it gets only the environment the model declares, and its ports are
 * published on 127.0.0.1 only (inside the container Jaeger must listen on the container's own
 * interface for the published port to reach it). Jaeger has no login: any local process can read
 * the traces (process mode's Jaeger is bound the same way: dashboard/jaeger.ts).
 */
export class JaegerResource extends ContainerResource {
  constructor(name: string) {
    super(name, JAEGER_IMAGE, jaegerKind);
    this.withEndpoint(JAEGER_UI_PORT, "http", "ui")
      .withEndpoint(JAEGER_OTLP_HTTP_PORT, "http", "otlp")
      .withHttpHealthCheck("/", "ui");
  }
}
