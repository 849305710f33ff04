// How a published Kafka broker's health is checked, in Compose and Kubernetes alike.

import { KAFKA_BIN } from "../kafka/topics-script.js";
import { KAFKA_PORT } from "./deploy-plan.js";

/**
 * Asks the broker for its API versions with the image's own tool: the request goes to the local
 * listener, then to the broker the metadata names (its advertised listener), so it passes only
 * when the broker serves requests under the name clients use. The tool's JVM gets a small heap,
 * not the broker's (the container's KAFKA_HEAP_OPTS). No "$": Compose would interpolate it.
 */
export function kafkaHealthScript(): string {
  return (
    `KAFKA_HEAP_OPTS='-Xmx64m -Xms16m' ${KAFKA_BIN}/kafka-broker-api-versions.sh ` +
    `--bootstrap-server 127.0.0.1:${KAFKA_PORT} > /dev/null`
  );
}
