import type { TopologyDeclaration } from "../../transport/transport.js";

/**
 * How the seam's names map onto Artemis, in one place (the AppHost's `addTopic` declares the same):
 * a destination is a multicast address; each consumer group has its own anycast address and
 * durable queue `<destination>.<group>`, fed by a divert, so that redelivery, attempts and the
 * dead-letter queue are per group; the dead-letter queue is the broker's per-address
 * `DLQ.<group queue's address>`.
 *
 * A source given as a fully qualified queue name (`address::queue`) is read as it is, whatever
 * the group: that is how a plain point-to-point queue (the receipts queue) is named.
 */
export function groupQueue(source: string, group: string): string {
  if (source.trim() === "") throw new Error("source must not be empty");
  if (source.includes("::")) return source;
  if (group.trim() === "") throw new Error(`group must not be empty (source ${source})`);
  return `${source}.${group}`;
}

/** The address part of a queue name given plainly or as `address::queue`. */
export function queueAddress(queue: string): string {
  const separator = queue.indexOf("::");
  return separator === -1 ? queue : queue.slice(0, separator);
}

/** The per-address dead-letter queue Artemis creates for the queue of (source, group). */
export function groupDeadLetterQueue(source: string, group: string): string {
  return `DLQ.${queueAddress(groupQueue(source, group))}`;
}

/** One address or queue the broker must have for a declaration. */
export interface ArtemisAddress {
  name: string;
  routingType: "multicast" | "anycast";
  /** The durable queue on it (anycast addresses only). */
  queue?: string;
  /** Where a multicast address's messages are diverted to (one per group). */
  divertsTo?: readonly string[];
}

/** What a topology declaration asks of Artemis, as addresses, queues and diverts. */
export function artemisAddresses(declaration: TopologyDeclaration): ArtemisAddress[] {
  const addresses: ArtemisAddress[] = [];
  for (const destination of declaration.destinations) {
    const queues = destination.groups.map((group) => groupQueue(destination.name, group));
    addresses.push({ name: destination.name, routingType: "multicast", divertsTo: queues });
    for (const queue of queues) addresses.push({ name: queue, routingType: "anycast", queue });
  }
  return addresses;
}
