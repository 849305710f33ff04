import type { BrokerClient } from "../artemis/security.js";
import type { AddressSettings, AddressSpec, ArtemisTopology, DivertSpec } from "../artemis/topology.js";
import { artemisKind } from "../kinds/artemis.js";
import { imageReference } from "./image.js";
import { Resource, type ReferenceTarget } from "./resource.js";

/** An ActiveMQ Artemis broker with the addresses, queues and address settings the AppHost configures. */
export class ArtemisResource extends Resource implements ReferenceTarget {
  private readonly addresses: AddressSpec[] = [];
  private readonly diverts: DivertSpec[] = [];
  private defaultSettings: AddressSettings | undefined;
  private idCacheSize: number | undefined;
  private persistDeliveryCount = false;
  /** Every resource that references this broker, and what it does there (its user's permissions). */
  private readonly clientAccess = new Map<string, BrokerClient>();
  /** Set by withImage. */
  image: string | undefined;

  constructor(name: string) {
    super(name, artemisKind);
  }

  get connectionName(): string {
    return this.name;
  }

  /** Called by `withReference`: the client gets a broker user of its own, with no permission yet. */
  referencedBy(client: string): void {
    this.client(client);
  }

  /**
   * An address a service sends to, as the value of one of its variables
   * (`withEnvironment("OUTBOX_ADDRESS", broker.sendsTo("entity-items"))`): the service's broker
   * user may send there, and nowhere else it was not given.
   */
  sendsTo(address: string): BrokerAddressUse {
    return new BrokerAddressUse(this, address, (c) => c.send.push(address));
  }

  /**
   * A queue a service consumes, as the value of one of its variables: its broker user may consume
   * that queue; with `deadLetters`, also browse, replay and delete its per-address dead letters.
   */
  consumes(queue: string, options: { deadLetters?: boolean } = {}): BrokerAddressUse {
    return new BrokerAddressUse(this, queue, (c) => {
      c.consume.push(queue);
      if (options.deadLetters) c.deadLetters.push(queue);
    });
  }

  /** The clients and their grants (checked against the topology when the broker is configured). */
  clients(): BrokerClient[] {
    return [...this.clientAccess.values()].map((c) => ({
      name: c.name,
      send: unique(c.send),
      consume: unique(c.consume),
      deadLetters: unique(c.deadLetters),
    }));
  }

  /** @internal */
  client(name: string): BrokerClient {
    let client = this.clientAccess.get(name);
    if (!client) {
      client = { name, send: [], consume: [], deadLetters: [] };
      this.clientAccess.set(name, client);
    }
    return client;
  }

  /** Container mode: the image to run instead of the official one (APPHOST_IMAGE_* variables still win). */
  withImage(image: string, tag?: string): this {
    this.image = imageReference(image, tag);
    return this;
  }

  /** A point-to-point address with one durable queue of the same name (the common case). */
  addQueue(name: string, settings?: AddressSettings): this {
    return this.addAddress({ name, routingType: "anycast", queues: [{ name }], settings });
  }

  /**
   * Publish-subscribe: producers send to `name` (a multicast address) and every consumer group
   * gets each message. Each group has its own durable queue `<name>.<group>` on an anycast address
   * of the same name, fed by a non-exclusive divert, because Artemis applies redelivery, maximum
   * attempts and dead-letter settings per address: this way every group has its own (`settings`
   * for all groups, overridden by the group's) and its own dead-letter queue `DLQ.<name>.<group>`.
   * A message is replayed from there to its group only, never to the other groups.
   */
  addTopic(name: string, groups: Array<string | ConsumerGroupSpec>, settings?: AddressSettings): this {
    this.addAddress({ name, routingType: "multicast", queues: [] });
    for (const group of groups.map((g) => (typeof g === "string" ? { name: g } : g))) {
      const queue = subscriptionQueueName(name, group.name);
      this.addAddress({
        name: queue,
        routingType: "anycast",
        queues: [{ name: queue, durable: group.durable ?? true }],
        settings: settings || group.settings ? { ...settings, ...group.settings } : undefined,
      });
      this.diverts.push({ name: `${name}-to-${group.name}`, address: name, forwardingAddress: queue });
    }
    return this;
  }

  addAddress(address: AddressSpec): this {
    if (this.addresses.some((a) => a.name === address.name)) {
      throw new Error(`Address "${address.name}" is declared twice on broker "${this.name}"`);
    }
    this.addresses.push(address);
    return this;
  }

  /**
   * Changes the settings of an address declared before (a queue, or a topic group's `<topic>.<group>`),
   * on top of what it was declared with: a test or an environment can tighten one queue's retry
   * budget without declaring the whole model again.
   */
  withAddressSettings(name: string, settings: AddressSettings): this {
    const index = this.addresses.findIndex((a) => a.name === name);
    const address = this.addresses[index];
    if (address === undefined)
      throw new Error(
        `No address "${name}" on broker "${this.name}" (have: ${this.addresses.map((a) => a.name).join(", ")})`,
      );
    this.addresses[index] = { ...address, settings: { ...address.settings, ...settings } };
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

  /**
   * Journal delivery counts before delivering, so that a redelivery after a broker restart is not
   * mistaken for a second copy (the soak counts queue-side duplicates exactly with it).
   */
  withPersistedDeliveryCount(): this {
    this.persistDeliveryCount = true;
    return this;
  }

  topology(): ArtemisTopology {
    return {
      addresses: [...this.addresses],
      diverts: [...this.diverts],
      defaultSettings: this.defaultSettings,
      idCacheSize: this.idCacheSize,
      persistIdCache: true,
      ...(this.persistDeliveryCount ? { persistDeliveryCount: true } : {}),
    };
  }
}

/** A consumer group of a topic and its own retry and dead-letter settings. */
export interface ConsumerGroupSpec {
  name: string;
  settings?: AddressSettings;
  /** Default true. */
  durable?: boolean;
}

/** The queue (and address) a consumer group of `topic` consumes: `<topic>.<group>`. */
export function subscriptionQueueName(topic: string, group: string): string {
  return `${topic}.${group}`;
}

/** An address or queue of a broker as one service uses it; see ArtemisResource.sendsTo / consumes. */
export class BrokerAddressUse {
  constructor(
    readonly broker: ArtemisResource,
    /** The address or queue name the service is given. */
    readonly name: string,
    private readonly apply: (client: BrokerClient) => void,
  ) {}

  /** Gives `client`'s broker user the permission this use needs. */
  grantTo(client: string): void {
    this.apply(this.broker.client(client));
  }
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
