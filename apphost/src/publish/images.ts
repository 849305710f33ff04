import { DEFAULT_ARTEMIS_VERSION } from "../artemis/distribution.js";

/**
 * The images a published system runs by default: the official ones users pull. PostgreSQL 15 is
 * the major Debian bookworm ships, so the locally built look-alike of `npm run images` (for
 * machines without a registry) matches it; `APPHOST_IMAGE_POSTGRES` / `APPHOST_IMAGE_ARTEMIS`
 * choose others at deploy time.
 */
export const DEFAULT_IMAGES = {
  postgres: "postgres:15",
  artemis: `apache/artemis:${DEFAULT_ARTEMIS_VERSION}`,
} as const;
