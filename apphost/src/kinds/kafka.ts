import type { KafkaResource } from "../model/kafka.js";
import { OFFICIAL_IMAGES } from "../providers/container/images.js";
import { defineResourceKind, lazyProvider } from "./resource-kind.js";

/** An Apache Kafka node in KRaft mode: the cached Maven Central jars as a local process, or a container. */
export const kafkaKind = defineResourceKind<KafkaResource>({
  name: "kafka",
  images: (broker) => [{ kind: "kafka", model: broker.image, fallback: OFFICIAL_IMAGES.kafka }],
  processProvider: () =>
    lazyProvider(
      async () => new (await import("../providers/process/kafka-process.js")).KafkaProcessProvider(),
    ),
  containerProvider: ({ owner }) =>
    lazyProvider(
      async () =>
        new (await import("../providers/container/kafka-container.js")).KafkaContainerProvider(owner),
    ),
});
