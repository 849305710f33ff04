// The broker topology the AppHost declares, rendered as Artemis `etc/broker.properties`.
//
// The rendered file is self-sufficient: prepareArtemisInstance strips the stock <addresses> from
// broker.xml, so every address the broker has at start-up (including dead-letter and expiry
// addresses) is declared here. Keys were checked against Artemis 2.56.0: the broker does NOT fail
// on a bad key, it only lists it under `configuration.properties."broker.properties".errors` of
// the management operation `broker.getStatus`.

export interface AddressSettings {
  /** Where undeliverable messages go, e.g. "DLQ". */
  deadLetterAddress?: string;
  /** Create a queue `<prefix><address>` on the dead-letter address for each address (per-address DLQ). */
  autoCreateDeadLetterResources?: boolean;
  /** Prefix of the per-address DLQ name; broker default "DLQ.". */
  deadLetterQueuePrefix?: string;
  expiryAddress?: string;
  redeliveryDelayMs?: number;
  redeliveryMultiplier?: number;
  maxRedeliveryDelayMs?: number;
  maxDeliveryAttempts?: number;
  /** Dead-letter a message that no queue of the address would receive instead of dropping it. */
  sendToDLAOnNoRoute?: boolean;
  /** Memory the address may hold before `addressFullMessagePolicy` applies. */
  maxSizeBytes?: number;
  /** What happens when the address is full: PAGE to disk, BLOCK producers, FAIL (reject) sends, DROP them. */
  addressFullMessagePolicy?: "PAGE" | "BLOCK" | "FAIL" | "DROP";
}

export interface QueueSpec {
  name: string;
  /** Default true. */
  durable?: boolean;
}

export interface AddressSpec {
  name: string;
  routingType: "anycast" | "multicast";
  queues: QueueSpec[];
  settings?: AddressSettings;
}

/**
 * A divert: every message routed to `address` is also (exclusive: instead) routed to
 * `forwardingAddress`, in the same routing transaction. Used to give each consumer group of a
 * topic its own address, because Artemis applies address settings (redelivery, max attempts,
 * dead-letter address) per ADDRESS, never per queue (checked in 2.56's QueueImpl).
 */
export interface DivertSpec {
  name: string;
  address: string;
  forwardingAddress: string;
  /** Default false: the original message is routed as usual too. */
  exclusive?: boolean;
  /** Routing type of the forwarded copy; default "anycast". */
  routingType?: "anycast" | "multicast" | "strip" | "pass";
}

export interface ArtemisTopology {
  addresses: AddressSpec[];
  diverts?: DivertSpec[];
  /** Applied to match "#" (every address, including DLQ/expiry addresses). */
  defaultSettings?: AddressSettings;
  /** Duplicate-id cache size per address (broker default 20000). */
  idCacheSize?: number;
  /** Keep the duplicate-id cache in the journal across restarts (broker default true). */
  persistIdCache?: boolean;
  /**
   * Journal each message's delivery count before delivering it (broker default false). Without it
   * a message redelivered after a broker restart arrives with delivery-count 0, like a second copy;
   * with it a consumer can tell the two apart, at the price of a journal write per delivery.
   */
  persistDeliveryCount?: boolean;
  /**
   * Let the broker create an address on first use. Default false: a sender or receiver naming an
   * unknown address is refused (`amqp:not-found`) instead of the message vanishing into an
   * auto-created address that has no queue.
   */
  autoCreateAddresses?: boolean;
}

/** The broker's own defaults for the "#" match, kept so the stock behaviour stays unless overridden. */
export const STOCK_DEAD_LETTER_ADDRESS = "DLQ";
export const STOCK_EXPIRY_ADDRESS = "ExpiryQueue";
export const STOCK_DEAD_LETTER_QUEUE_PREFIX = "DLQ.";

// Letters, digits, '.', '-', '_' only: these need no escaping in a properties key, and a quoted
// segment keeps dots inside a name from being read as property-path separators.
const NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
const MAX_NAME_LENGTH = 200;

export class TopologyError extends Error {
  override name = "TopologyError";
}

function checkName(kind: string, name: string, context = ""): void {
  if (typeof name !== "string" || !NAME_PATTERN.test(name) || name.length > MAX_NAME_LENGTH) {
    throw new TopologyError(
      `Invalid Artemis ${kind} name ${JSON.stringify(name)}${context}: use 1..${MAX_NAME_LENGTH} characters from ` +
        `letters, digits, '.', '-' and '_' (starting with a letter, digit or '_')`,
    );
  }
}

function checkInt(what: string, value: number | undefined, min: number): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < min)) {
    throw new TopologyError(`${what} must be an integer >= ${min}, got ${String(value)}`);
  }
}

function checkSettings(where: string, s: AddressSettings | undefined): void {
  if (!s) return;
  if (s.deadLetterAddress !== undefined) checkName(`${where} deadLetterAddress`, s.deadLetterAddress);
  if (s.expiryAddress !== undefined) checkName(`${where} expiryAddress`, s.expiryAddress);
  if (s.deadLetterQueuePrefix !== undefined && s.deadLetterQueuePrefix !== "") {
    checkName(`${where} deadLetterQueuePrefix`, s.deadLetterQueuePrefix);
  }
  checkInt(`${where} redeliveryDelayMs`, s.redeliveryDelayMs, 0);
  checkInt(`${where} maxRedeliveryDelayMs`, s.maxRedeliveryDelayMs, 0);
  // -1 = no limit in Artemis.
  if (s.maxSizeBytes !== undefined && s.maxSizeBytes !== -1)
    checkInt(`${where} maxSizeBytes`, s.maxSizeBytes, 1);
  // -1 = unlimited in Artemis; 0 is meaningless.
  if (s.maxDeliveryAttempts !== undefined && s.maxDeliveryAttempts !== -1) {
    checkInt(`${where} maxDeliveryAttempts`, s.maxDeliveryAttempts, 1);
  }
  if (
    s.redeliveryMultiplier !== undefined &&
    !(Number.isFinite(s.redeliveryMultiplier) && s.redeliveryMultiplier >= 1)
  ) {
    throw new TopologyError(
      `${where} redeliveryMultiplier must be a number >= 1, got ${String(s.redeliveryMultiplier)}`,
    );
  }
}

/** Checks names, duplicates and numbers; throws TopologyError with a message naming the culprit. */
export function validateTopology(topology: ArtemisTopology): void {
  const addressNames = new Set<string>();
  const queueNames = new Set<string>();
  for (const address of topology.addresses) {
    checkName("address", address.name);
    if (addressNames.has(address.name))
      throw new TopologyError(`Artemis address "${address.name}" is declared twice`);
    addressNames.add(address.name);
    if (address.routingType !== "anycast" && address.routingType !== "multicast") {
      throw new TopologyError(
        `Artemis address "${address.name}": routingType must be "anycast" or "multicast"`,
      );
    }
    for (const queue of address.queues) {
      checkName("queue", queue.name, ` (address "${address.name}")`);
      // Queue names are broker-wide, not per address.
      if (queueNames.has(queue.name))
        throw new TopologyError(`Artemis queue "${queue.name}" is declared twice`);
      queueNames.add(queue.name);
    }
    checkSettings(`address "${address.name}"`, address.settings);
  }
  checkSettings("defaultSettings", topology.defaultSettings);
  checkInt("idCacheSize", topology.idCacheSize, 1);
  const divertNames = new Set<string>();
  for (const divert of topology.diverts ?? []) {
    checkName("divert", divert.name);
    if (divertNames.has(divert.name))
      throw new TopologyError(`Artemis divert "${divert.name}" is declared twice`);
    divertNames.add(divert.name);
    for (const end of [divert.address, divert.forwardingAddress]) {
      if (!addressNames.has(end)) {
        throw new TopologyError(`Artemis divert "${divert.name}" names undeclared address "${end}"`);
      }
    }
  }
}

/** Settings an address really gets: the "#" defaults, the stock DLA/expiry, then its own. */
export function effectiveSettings(topology: ArtemisTopology, address?: AddressSpec): AddressSettings {
  return {
    deadLetterAddress: STOCK_DEAD_LETTER_ADDRESS,
    expiryAddress: STOCK_EXPIRY_ADDRESS,
    deadLetterQueuePrefix: STOCK_DEAD_LETTER_QUEUE_PREFIX,
    ...stripUndefined(topology.defaultSettings),
    ...stripUndefined(address?.settings),
  };
}

/** Name of the per-address dead-letter queue, or undefined when the address has none. */
export function deadLetterQueueName(topology: ArtemisTopology, addressName: string): string | undefined {
  const address = topology.addresses.find((a) => a.name === addressName);
  const s = effectiveSettings(topology, address);
  if (!s.autoCreateDeadLetterResources) return undefined;
  return `${s.deadLetterQueuePrefix ?? STOCK_DEAD_LETTER_QUEUE_PREFIX}${addressName}`;
}

function stripUndefined<T extends object>(value: T | undefined): Partial<T> {
  if (!value) return {};
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function quoted(name: string): string {
  return `"${name}"`;
}

function settingsLines(match: string, s: AddressSettings): string[] {
  const key = `addressSettings.${quoted(match)}`;
  const lines: string[] = [];
  const put = (prop: string, value: string | number | boolean | undefined): void => {
    if (value !== undefined) lines.push(`${key}.${prop}=${String(value)}`);
  };
  put("deadLetterAddress", s.deadLetterAddress);
  put("autoCreateDeadLetterResources", s.autoCreateDeadLetterResources);
  put("deadLetterQueuePrefix", s.deadLetterQueuePrefix);
  put("expiryAddress", s.expiryAddress);
  put("redeliveryDelay", s.redeliveryDelayMs);
  put("redeliveryMultiplier", s.redeliveryMultiplier);
  put("maxRedeliveryDelay", s.maxRedeliveryDelayMs);
  put("maxDeliveryAttempts", s.maxDeliveryAttempts);
  put("sendToDLAOnNoRoute", s.sendToDLAOnNoRoute);
  put("maxSizeBytes", s.maxSizeBytes);
  put("addressFullMessagePolicy", s.addressFullMessagePolicy);
  return lines;
}

interface QueueLine {
  name: string;
  durable: boolean;
  filter?: string;
}

function addressLines(name: string, routingType: "ANYCAST" | "MULTICAST", queues: QueueLine[]): string[] {
  const key = `addressConfigurations.${quoted(name)}`;
  const lines = [`${key}.routingTypes=${routingType}`];
  for (const q of queues) {
    const qkey = `${key}.queueConfigs.${quoted(q.name)}`;
    // `.address` must be repeated, otherwise the broker creates the queue on an address named after it.
    lines.push(
      `${qkey}.address=${name}`,
      `${qkey}.routingType=${routingType}`,
      `${qkey}.durable=${String(q.durable)}`,
    );
    if (q.filter) lines.push(`${qkey}.filterString=${q.filter}`);
  }
  return lines;
}

/**
 * Dead-letter and expiry addresses the settings point at but the topology does not declare.
 *
 * A dead-letter address gets a catch-all anycast queue of its own name. Where addresses use
 * per-address DLQs on it, that catch-all queue must not match their messages: anycast routing
 * round-robins between every matching queue, so half of them would land in the catch-all queue
 * (seen on 2.56.0). The filter excludes those origin addresses; if every user of the address
 * (including the "#" default) uses per-address DLQs, there is no catch-all queue at all.
 */
function implicitAddresses(topology: ArtemisTopology): Array<{ name: string; queues: QueueLine[] }> {
  const declared = new Set(topology.addresses.map((a) => a.name));
  const users = new Map<string, { perAddress: string[]; catchAll: boolean }>();
  const expiry = new Set<string>();
  const note = (origin: string | undefined, s: AddressSettings): void => {
    if (s.deadLetterAddress) {
      const u = users.get(s.deadLetterAddress) ?? { perAddress: [], catchAll: false };
      if (s.autoCreateDeadLetterResources && origin !== undefined) u.perAddress.push(origin);
      else if (!s.autoCreateDeadLetterResources) u.catchAll = true;
      users.set(s.deadLetterAddress, u);
    }
    if (s.expiryAddress) expiry.add(s.expiryAddress);
  };
  // The "#" default covers every address that is not declared (DLQ/expiry ones included).
  note(undefined, effectiveSettings(topology));
  for (const a of topology.addresses) note(a.name, effectiveSettings(topology, a));

  const result: Array<{ name: string; queues: QueueLine[] }> = [];
  for (const [name, u] of users) {
    if (declared.has(name)) continue;
    const queues: QueueLine[] = [];
    if (u.catchAll) {
      const filter =
        u.perAddress.length > 0
          ? `_AMQ_ORIG_ADDRESS NOT IN (${u.perAddress.map((a) => `'${a}'`).join(",")})`
          : undefined;
      queues.push({ name, durable: true, ...(filter ? { filter } : {}) });
    }
    result.push({ name, queues });
  }
  for (const name of expiry) {
    if (declared.has(name) || users.has(name)) continue;
    result.push({ name, queues: [{ name, durable: true }] });
  }
  return result;
}

/** Content for `etc/broker.properties`. Throws TopologyError on an invalid topology. */
export function renderBrokerProperties(topology: ArtemisTopology): string {
  validateTopology(topology);
  const lines: string[] = [
    "# Generated by the Outbox AppHost on every start; edits are overwritten.",
    "# Keys that fail to apply do not stop the broker: see broker.getStatus over management.",
    "",
    "# Duplicate detection (_AMQ_DUPL_ID) cache, per address",
    `IDCacheSize=${String(topology.idCacheSize ?? 20000)}`,
    `persistIDCache=${String(topology.persistIdCache ?? true)}`,
    ...(topology.persistDeliveryCount ? ["persistDeliveryCountBeforeDelivery=true"] : []),
    "",
    "# Every address: anycast when something is created implicitly, and by default nothing is",
    "# (an auto-created multicast address with no queue accepts and drops messages).",
    `addressSettings."#".autoCreateAddresses=${String(topology.autoCreateAddresses ?? false)}`,
    'addressSettings."#".defaultAddressRoutingType=ANYCAST',
    'addressSettings."#".defaultQueueRoutingType=ANYCAST',
    ...settingsLines("#", effectiveSettings(topology)),
  ];
  for (const a of topology.addresses) {
    const routing = a.routingType === "anycast" ? "ANYCAST" : "MULTICAST";
    lines.push("", `# Address ${a.name} (${a.routingType})`);
    lines.push(
      ...addressLines(
        a.name,
        routing,
        a.queues.map((q) => ({ name: q.name, durable: q.durable ?? true })),
      ),
    );
    // Only the address's own overrides: the broker merges them over "#".
    if (a.settings) lines.push(...settingsLines(a.name, stripUndefined(a.settings)));
  }
  for (const d of topology.diverts ?? []) {
    const key = `divertConfigurations.${quoted(d.name)}`;
    lines.push(
      "",
      `# Divert ${d.name}: ${d.address} -> ${d.forwardingAddress}`,
      `${key}.routingName=${d.name}`,
      `${key}.address=${d.address}`,
      `${key}.forwardingAddress=${d.forwardingAddress}`,
      `${key}.exclusive=${String(d.exclusive ?? false)}`,
      `${key}.routingType=${(d.routingType ?? "anycast").toUpperCase()}`,
    );
  }
  for (const implicit of implicitAddresses(topology)) {
    lines.push("", `# Dead-letter / expiry address ${implicit.name}`);
    lines.push(...addressLines(implicit.name, "ANYCAST", implicit.queues));
  }
  return `${lines.join("\n")}\n`;
}
