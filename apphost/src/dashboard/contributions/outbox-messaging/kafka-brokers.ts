// Reads every Kafka resource of the running model for the Messaging page (GET /api/messaging/kafka):
// the broker itself answers, through the AppHost's admin client, never a service.

import { readKafkaOffsets, type KafkaOffsetsSnapshot } from "../../../kafka/admin.js";
import type { ResourceSnapshot } from "../../../runtime/distributed-application.js";
import { kafkaOverview, type KafkaBrokerView } from "./kafka-overview.js";

export interface KafkaBrokersOptions {
  resources: () => ResourceSnapshot[];
  /** Reads one broker (tests pass a fake; the default asks it through kafkajs' admin client). */
  read?: (bootstrap: string) => Promise<KafkaOffsetsSnapshot>;
}

/** The resources of kind `kafka`, in model order. */
function kafkaResources(resources: ResourceSnapshot[]): ResourceSnapshot[] {
  return resources.filter((r) => r.kind === "kafka");
}

/** `host:port` of a Kafka resource's `kafka://host:port` endpoint. */
export function bootstrapOf(resource: ResourceSnapshot): string | undefined {
  const endpoint = resource.endpoints.kafka;
  return endpoint?.startsWith("kafka://") ? endpoint.slice("kafka://".length) : undefined;
}

export class KafkaBrokers {
  /** One reading per broker at a time: page refreshes from several tabs share it. */
  private readonly pending = new Map<string, Promise<KafkaBrokerView>>();

  constructor(private readonly options: KafkaBrokersOptions) {}

  async views(): Promise<KafkaBrokerView[]> {
    return Promise.all(kafkaResources(this.options.resources()).map((r) => this.view(r)));
  }

  private view(resource: ResourceSnapshot): Promise<KafkaBrokerView> {
    const bootstrap = bootstrapOf(resource);
    const empty = {
      resource: resource.name,
      state: resource.state,
      topics: [],
      groups: [],
      deadLetterTopics: [],
    };
    // Only a Running broker owns its port; a stopped one's may belong to anyone.
    if (resource.state !== "Running" || bootstrap === undefined)
      return Promise.resolve({ ...empty, error: `${resource.name} is not running` });
    const key = `${resource.name} ${bootstrap}`;
    const inFlight = this.pending.get(key);
    if (inFlight) return inFlight;
    const read = this.options.read ?? ((b: string) => readKafkaOffsets(b));
    const reading = read(bootstrap)
      .then((snapshot) => ({
        ...empty,
        bootstrap,
        time: new Date().toISOString(),
        ...kafkaOverview(snapshot),
      }))
      .catch((error: unknown) => ({
        ...empty,
        bootstrap,
        error: `the broker did not answer: ${error instanceof Error ? error.message : String(error)}`,
      }))
      .finally(() => this.pending.delete(key));
    this.pending.set(key, reading);
    return reading;
  }
}
