// One broker user per client (service) with address-level permissions, rendered as Artemis
// broker.properties `securityRoles` entries, plus the users and roles files the JAAS
// PropertiesLoginModule reads.
//
// How Artemis decides (checked in its SecurityStoreImpl and ServerSessionImpl, 2.56):
// - the MOST SPECIFIC matching security-setting wins; roles of wider matches are not merged, so
//   every match written here also names the admin role;
// - a consumer's check uses the exact match `address::queue` when one exists, so a consume grant
//   names one queue, not every queue of its address;
// - a management message needs `send` (AMQP link attach) and `manage` on the management address;
//   with `managementMessageRbac=true` every operation also needs `view` (get/is/count/list/browse/
//   query…) or `edit` (anything else) on `mops.<resource type>.<resource name>.<operation>`;
// - the reply to a management call goes to a temporary queue the client creates (an AMQP dynamic
//   source, named by a UUID): `uuidNamespace` lets one match (`<namespace>.#`) cover those names.

import { deadLetterQueueName, TopologyError, type ArtemisTopology } from "./topology.js";

/** The role of the AppHost's own user (the `artemis create` default, which the stock broker.xml grants everything). */
export const ADMIN_ROLE = "amq";
/** Prefix of management RBAC matches (the broker default). */
export const MANAGEMENT_RBAC_PREFIX = "mops";
export const MANAGEMENT_ADDRESS = "activemq.management";
/** Match prefix for temporary (UUID-named) queues such as management reply queues. */
export const TEMPORARY_QUEUE_NAMESPACE = "temporary";

/**
 * What a dead-letter API does through management (service-defaults/src/dead-letter-queue.ts):
 * browse and count (view), replay one or all, delete one (edit). Nothing else — `moveMessages`,
 * for one, could send a dead letter to any queue past the send permissions.
 */
export const DEAD_LETTER_OPERATIONS = {
  view: ["countMessages", "listMessages"],
  edit: ["retryMessage", "retryMessages", "removeMessage"],
} as const;

export type BrokerPermission =
  | "send"
  | "consume"
  | "browse"
  | "createDurableQueue"
  | "deleteDurableQueue"
  | "createNonDurableQueue"
  | "deleteNonDurableQueue"
  | "createAddress"
  | "deleteAddress"
  | "manage"
  | "view"
  | "edit";

/** What the stock broker.xml grants the admin role on every address. */
const ADMIN_ADDRESS_PERMISSIONS: BrokerPermission[] = [
  "send",
  "consume",
  "browse",
  "createDurableQueue",
  "deleteDurableQueue",
  "createNonDurableQueue",
  "deleteNonDurableQueue",
  "createAddress",
  "deleteAddress",
];

/**
 * A management caller's temporary reply queue: create it, read from it, let the broker reply into
 * it (the reply is sent with the caller's rights), drop it. No createAddress needed (checked).
 */
const REPLY_QUEUE_PERMISSIONS: BrokerPermission[] = [
  "createNonDurableQueue",
  "deleteNonDurableQueue",
  "consume",
  "send",
];

/** What one client (a service) does on the broker; its user gets exactly this. */
export interface BrokerClient {
  /** The client resource's name; also its user and role name. */
  name: string;
  /** Addresses it sends to. */
  send: string[];
  /** Queues it consumes. */
  consume: string[];
  /** Queues whose per-address dead-letter queue it browses, replays and deletes from. */
  deadLetters: string[];
}

const CLIENT_NAME = /^[a-z][a-z0-9-]{0,62}$/;

/** matcher → role → permissions, in the order first written. */
export type SecurityMatches = Map<string, Map<string, Set<BrokerPermission>>>;

function grant(matches: SecurityMatches, match: string, role: string, permissions: BrokerPermission[]): void {
  const roles = matches.get(match) ?? new Map<string, Set<BrokerPermission>>();
  matches.set(match, roles);
  const set = roles.get(role) ?? new Set<BrokerPermission>();
  roles.set(role, set);
  for (const p of permissions) set.add(p);
}

function addressOfQueue(topology: ArtemisTopology, queue: string, client: string): string {
  const address = topology.addresses.find((a) => a.queues.some((q) => q.name === queue));
  if (!address) {
    throw new TopologyError(
      `Broker client "${client}" consumes queue "${queue}", which the broker does not declare`,
    );
  }
  return address.name;
}

/** Checks the clients against the topology; throws TopologyError naming the culprit. */
export function validateClients(topology: ArtemisTopology, clients: BrokerClient[], adminUser: string): void {
  const seen = new Set<string>();
  for (const client of clients) {
    if (!CLIENT_NAME.test(client.name))
      throw new TopologyError(`Invalid broker client name ${JSON.stringify(client.name)}`);
    if (client.name === ADMIN_ROLE || client.name === adminUser)
      throw new TopologyError(`Broker client "${client.name}" would share the AppHost's own user or role`);
    if (seen.has(client.name)) throw new TopologyError(`Broker client "${client.name}" is declared twice`);
    seen.add(client.name);
    for (const address of client.send) {
      if (!topology.addresses.some((a) => a.name === address))
        throw new TopologyError(
          `Broker client "${client.name}" sends to address "${address}", which the broker does not declare`,
        );
    }
    for (const queue of [...client.consume, ...client.deadLetters])
      addressOfQueue(topology, queue, client.name);
    for (const queue of client.deadLetters) {
      if (!deadLetterQueueName(topology, addressOfQueue(topology, queue, client.name)))
        throw new TopologyError(
          `Broker client "${client.name}" manages the dead letters of "${queue}", but its address has no ` +
            `per-address dead-letter queue (autoCreateDeadLetterResources)`,
        );
    }
  }
}

/** Every security match the broker gets: the admin everywhere, each client only where it needs to be. */
export function securityMatches(topology: ArtemisTopology, clients: BrokerClient[]): SecurityMatches {
  const matches: SecurityMatches = new Map();
  // The admin (topology verification, queue stats, dashboard, tests' tools) keeps full rights.
  grant(matches, "#", ADMIN_ROLE, ADMIN_ADDRESS_PERMISSIONS);
  grant(matches, `${MANAGEMENT_ADDRESS}.#`, ADMIN_ROLE, [...ADMIN_ADDRESS_PERMISSIONS, "manage"]);
  grant(matches, `${MANAGEMENT_RBAC_PREFIX}.#`, ADMIN_ROLE, ["view", "edit"]);
  grant(matches, `${TEMPORARY_QUEUE_NAMESPACE}.#`, ADMIN_ROLE, ADMIN_ADDRESS_PERMISSIONS);

  const clientGrant = (match: string, role: string, permissions: BrokerPermission[]): void => {
    // The most specific match wins alone: the admin must be in every match it is not to lose.
    if (!matches.has(match)) grant(matches, match, ADMIN_ROLE, ADMIN_ADDRESS_PERMISSIONS);
    grant(matches, match, role, permissions);
  };
  for (const client of clients) {
    for (const address of client.send) clientGrant(address, client.name, ["send"]);
    for (const queue of client.consume)
      clientGrant(`${addressOfQueue(topology, queue, client.name)}::${queue}`, client.name, ["consume"]);
    if (client.deadLetters.length > 0) {
      grant(matches, `${MANAGEMENT_ADDRESS}.#`, client.name, ["send", "manage"]);
      grant(matches, `${TEMPORARY_QUEUE_NAMESPACE}.#`, client.name, REPLY_QUEUE_PERMISSIONS);
    }
    for (const queue of client.deadLetters) {
      const dlq = deadLetterQueueName(topology, addressOfQueue(topology, queue, client.name)) ?? "";
      for (const operation of DEAD_LETTER_OPERATIONS.view)
        grant(matches, `${MANAGEMENT_RBAC_PREFIX}.queue.${dlq}.${operation}`, client.name, ["view"]);
      for (const operation of DEAD_LETTER_OPERATIONS.edit)
        grant(matches, `${MANAGEMENT_RBAC_PREFIX}.queue.${dlq}.${operation}`, client.name, ["edit"]);
    }
  }
  return matches;
}

/** A properties key segment: quoted, with ':' escaped (java.util.Properties splits keys on it). */
function quotedKey(name: string): string {
  return `"${name.replace(/:/g, "\\:")}"`;
}

/** broker.properties lines: management RBAC on, the temporary-queue namespace, every security match. */
export function renderSecurityProperties(
  topology: ArtemisTopology,
  clients: BrokerClient[],
  adminUser: string,
): string {
  validateClients(topology, clients, adminUser);
  const lines = [
    "# Security (AppHost): one user per service, each limited to its own addresses and queues",
    "managementMessageRbac=true",
    `managementRbacPrefix=${MANAGEMENT_RBAC_PREFIX}`,
    `uuidNamespace=${TEMPORARY_QUEUE_NAMESPACE}`,
  ];
  for (const [match, roles] of securityMatches(topology, clients)) {
    for (const [role, permissions] of roles)
      for (const permission of permissions)
        lines.push(`securityRoles.${quotedKey(match)}.${role}.${permission}=true`);
  }
  return `${lines.join("\n")}\n`;
}

/** A login: user name and password (plain; hashed when written). */
export interface BrokerLogin {
  username: string;
  password: string;
}

/** The roles file's content model: role → users (the admin in ADMIN_ROLE, each client in its own). */
export function brokerRoles(adminUser: string, clients: Array<{ name: string }>): Map<string, string[]> {
  return new Map([[ADMIN_ROLE, [adminUser]], ...clients.map((c): [string, string[]] => [c.name, [c.name]])]);
}

/**
 * Clients that reference the broker but were given nothing to do on it: their user may connect
 * and nothing else, so every attach is refused (`amqp:unauthorized-access`) at run time. Worth a
 * warning at start-up, where the fix (`broker.sendsTo()` / `broker.consumes()`) is obvious.
 */
export function clientsWithoutGrants(clients: BrokerClient[]): string[] {
  return clients
    .filter((c) => c.send.length === 0 && c.consume.length === 0 && c.deadLetters.length === 0)
    .map((c) => c.name);
}
