import type { AppBuilder, ArtemisResource } from "@outbox/apphost";
import { buildApp } from "../../apphost.js";

export const SOAK_TRANSPORTS = ["artemis", "kafka"] as const;
export type SoakTransport = (typeof SOAK_TRANSPORTS)[number];

/** This repository's system (apphost.ts) on the given broker, as the soak runs it. */
export function soakModel(transport: SoakTransport): AppBuilder {
  if (transport === "kafka") return buildApp({ transport: "kafka" });
  const model = buildApp({ transport: "artemis" });
  // Journalled delivery counts: most redeliveries after a broker restart keep their count and
  // are not mistaken for second copies on the queue (docs/soak.md, "Duplicates on the queue").
  (model.resource("broker") as ArtemisResource).withPersistedDeliveryCount();
  return model;
}

export function parseSoakTransport(value: string | undefined): SoakTransport {
  const transport = SOAK_TRANSPORTS.find((t) => t === (value ?? "artemis"));
  if (transport === undefined)
    throw new Error(`--transport must be one of ${SOAK_TRANSPORTS.join(", ")}, got ${value}`);
  return transport;
}
