import type { AddressSettings, AddressSpec, ArtemisTopology, QueueSpec } from "../artemis/topology.js";
import { Resource, type ReferenceTarget } from "./resource.js";

/** An ActiveMQ Artemis broker with the addresses, queues and address settings the AppHost configures. */
export class ArtemisResource extends Resource implements ReferenceTarget {
  private readonly addresses: AddressSpec[] = [];
  private defaultSettings: AddressSettings | undefined;
  private idCacheSize: number | undefined;

  constructor(name: string) {
    super(name, "artemis");
  }

  get connectionName(): string {
    return this.name;
  }

  /** A point-to-point address with one durable queue of the same name (the common case). */
  addQueue(name: string, settings?: AddressSettings): this {
    return this.addAddress({ name, routingType: "anycast", queues: [{ name }], settings });
  }

  /** A publish-subscribe address with one durable subscription queue per consumer group. */
  addTopic(name: string, subscriptions: Array<string | QueueSpec>, settings?: AddressSettings): this {
    const queues = subscriptions.map((s) => (typeof s === "string" ? { name: s } : s));
    return this.addAddress({ name, routingType: "multicast", queues, settings });
  }

  addAddress(address: AddressSpec): this {
    if (this.addresses.some((a) => a.name === address.name)) {
      throw new Error(`Address "${address.name}" is declared twice on broker "${this.name}"`);
    }
    this.addresses.push(address);
    return this;
  }

  /** Settings for every address (dead-letter address, redelivery, attempts) unless overridden per address. */
  withDefaultAddressSettings(settings: AddressSettings): this {
    this.defaultSettings = settings;
    return this;
  }

  /** Size of the per-address duplicate-id cache that drops resends carrying the same `_AMQ_DUPL_ID`. */
  withDuplicateIdCache(size: number): this {
    if (!Number.isInteger(size) || size < 1)
      throw new Error("Duplicate-id cache size must be a positive integer");
    this.idCacheSize = size;
    return this;
  }

  topology(): ArtemisTopology {
    return {
      addresses: [...this.addresses],
      defaultSettings: this.defaultSettings,
      idCacheSize: this.idCacheSize,
      persistIdCache: true,
    };
  }
}
