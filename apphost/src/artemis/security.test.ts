import { describe, expect, it } from "vitest";
import { buildApp } from "../../../apphost.js";
import type { ArtemisResource } from "../model/artemis.js";
import {
  ADMIN_ROLE,
  clientsWithoutGrants,
  renderSecurityProperties,
  securityMatches,
  type BrokerClient,
} from "./security.js";
import type { ArtemisTopology } from "./topology.js";

const topology: ArtemisTopology = {
  addresses: [
    { name: "orders", routingType: "multicast", queues: [] },
    { name: "orders.billing", routingType: "anycast", queues: [{ name: "orders.billing" }] },
    { name: "receipts", routingType: "anycast", queues: [{ name: "receipts" }] },
  ],
  defaultSettings: { deadLetterAddress: "DLQ", autoCreateDeadLetterResources: true },
};

const client = (name: string, access: Partial<BrokerClient> = {}): BrokerClient => ({
  name,
  send: [],
  consume: [],
  deadLetters: [],
  ...access,
});

describe("broker security", () => {
  it("grants each client exactly its addresses, queues and DLQ operations, and the admin everything", () => {
    const matches = securityMatches(topology, [
      client("shop", { send: ["orders"], consume: ["receipts"] }),
      client("billing", { consume: ["orders.billing"], send: ["receipts"], deadLetters: ["orders.billing"] }),
    ]);
    const roles = (match: string): Record<string, string[] | undefined> =>
      Object.fromEntries(
        [...(matches.get(match) ?? new Map<string, Set<string>>())].map(([r, p]) => [r, [...p]]),
      );
    expect(roles("orders").shop).toEqual(["send"]);
    expect(roles("orders").billing).toBeUndefined();
    // A consume grant names the queue (address::queue), not every queue of the address.
    expect(roles("orders.billing::orders.billing").billing).toEqual(["consume"]);
    expect(roles("receipts::receipts").shop).toEqual(["consume"]);
    // The most specific match wins alone: the admin is in every one.
    for (const [match, byRole] of matches)
      if (!match.startsWith("mops.queue.")) expect(byRole.has(ADMIN_ROLE), match).toBe(true);
    expect(roles("mops.#")[ADMIN_ROLE]).toEqual(["view", "edit"]);
    // Management: the DLQ API's five operations on its own DLQ, nothing for the other client.
    expect(roles("mops.queue.DLQ.orders.billing.listMessages").billing).toEqual(["view"]);
    expect(roles("mops.queue.DLQ.orders.billing.retryMessage").billing).toEqual(["edit"]);
    expect(roles("mops.queue.DLQ.orders.billing.removeMessage").billing).toEqual(["edit"]);
    expect([...matches.keys()].filter((m) => m.startsWith("mops.queue."))).toHaveLength(5);
    expect(roles("activemq.management.#").billing).toEqual(["send", "manage"]);
    expect(roles("activemq.management.#").shop).toBeUndefined();
    expect(roles("temporary.#").shop).toBeUndefined();
  });

  it("renders broker.properties keys with ':' escaped and management RBAC on", () => {
    const text = renderSecurityProperties(topology, [client("shop", { consume: ["receipts"] })], "artemis");
    expect(text).toContain("managementMessageRbac=true");
    expect(text).toContain("uuidNamespace=temporary");
    expect(text).toContain('securityRoles."receipts\\:\\:receipts".shop.consume=true');
  });

  it("refuses what the topology does not have, and a client that would share the admin's user or role", () => {
    expect(() =>
      renderSecurityProperties(topology, [client("shop", { send: ["nowhere"] })], "artemis"),
    ).toThrow(/"shop" sends to address "nowhere", which the broker does not declare/);
    expect(() =>
      renderSecurityProperties(topology, [client("shop", { consume: ["orders"] })], "artemis"),
    ).toThrow(/consumes queue "orders"/);
    const noDlq: ArtemisTopology = { ...topology, defaultSettings: {} };
    expect(() =>
      renderSecurityProperties(noDlq, [client("billing", { deadLetters: ["orders.billing"] })], "artemis"),
    ).toThrow(/no per-address dead-letter queue/);
    expect(() => renderSecurityProperties(topology, [client("artemis")], "artemis")).toThrow(/AppHost's own/);
    expect(() => renderSecurityProperties(topology, [client(ADMIN_ROLE)], "artemis")).toThrow(
      /AppHost's own/,
    );
  });

  it("reads the clients and their grants from this repository's model", () => {
    const broker = buildApp().resource("broker") as ArtemisResource;
    expect(broker.clients()).toEqual([
      {
        name: "sender",
        send: ["entity-items"],
        consume: ["delivery-receipts"],
        deadLetters: ["delivery-receipts"],
      },
      {
        name: "receiver",
        send: ["delivery-receipts"],
        consume: ["entity-items.receiver", "entity-items.audit"],
        deadLetters: ["entity-items.receiver", "entity-items.audit"],
      },
    ]);
  });
});

describe("clientsWithoutGrants", () => {
  it("names the clients that may do nothing on the broker", () => {
    expect(
      clientsWithoutGrants([
        { name: "sender", send: ["entity-items"], consume: [], deadLetters: [] },
        { name: "reporting", send: [], consume: [], deadLetters: [] },
        { name: "receiver", send: [], consume: ["entity-items.receiver"], deadLetters: [] },
      ]),
    ).toEqual(["reporting"]);
  });
});
