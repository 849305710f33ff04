import { describe, expect, it } from "vitest";
import {
  TopologyError,
  deadLetterQueueName,
  renderBrokerProperties,
  type ArtemisTopology,
} from "./topology.js";

const outbox: ArtemisTopology = {
  addresses: [{ name: "entity-items", routingType: "anycast", queues: [{ name: "entity-items" }] }],
  defaultSettings: {
    deadLetterAddress: "DLQ",
    autoCreateDeadLetterResources: true,
    redeliveryDelayMs: 1000,
    redeliveryMultiplier: 2,
    maxRedeliveryDelayMs: 30000,
    maxDeliveryAttempts: 5,
  },
  idCacheSize: 5000,
};

function lines(topology: ArtemisTopology): string[] {
  return renderBrokerProperties(topology).split("\n");
}

describe("renderBrokerProperties", () => {
  it("pre-creates a durable anycast address and queue", () => {
    const out = lines(outbox);
    expect(out).toContain('addressConfigurations."entity-items".routingTypes=ANYCAST');
    expect(out).toContain(
      'addressConfigurations."entity-items".queueConfigs."entity-items".address=entity-items',
    );
    expect(out).toContain(
      'addressConfigurations."entity-items".queueConfigs."entity-items".routingType=ANYCAST',
    );
    expect(out).toContain('addressConfigurations."entity-items".queueConfigs."entity-items".durable=true');
  });

  it("refuses auto-created addresses and defaults implicit routing to anycast", () => {
    const out = lines(outbox);
    expect(out).toContain('addressSettings."#".autoCreateAddresses=false');
    expect(out).toContain('addressSettings."#".defaultAddressRoutingType=ANYCAST');
    expect(out).toContain('addressSettings."#".defaultQueueRoutingType=ANYCAST');
    expect(lines({ ...outbox, autoCreateAddresses: true })).toContain(
      'addressSettings."#".autoCreateAddresses=true',
    );
  });

  it("uses the broker's real key names for the duplicate-id cache", () => {
    const out = lines(outbox);
    expect(out).toContain("IDCacheSize=5000");
    expect(out).toContain("persistIDCache=true");
    expect(lines({ addresses: [] })).toContain("IDCacheSize=20000");
  });

  it("renders default settings on '#' and address overrides on the address name", () => {
    const out = lines({
      ...outbox,
      addresses: [
        { ...outbox.addresses[0]!, settings: { maxDeliveryAttempts: 2, sendToDLAOnNoRoute: true } },
      ],
    });
    expect(out).toContain('addressSettings."#".deadLetterAddress=DLQ');
    expect(out).toContain('addressSettings."#".autoCreateDeadLetterResources=true');
    expect(out).toContain('addressSettings."#".redeliveryDelay=1000');
    expect(out).toContain('addressSettings."#".redeliveryMultiplier=2');
    expect(out).toContain('addressSettings."#".maxRedeliveryDelay=30000');
    expect(out).toContain('addressSettings."#".maxDeliveryAttempts=5');
    expect(out).toContain('addressSettings."#".expiryAddress=ExpiryQueue');
    expect(out).toContain('addressSettings."entity-items".maxDeliveryAttempts=2');
    expect(out).toContain('addressSettings."entity-items".sendToDLAOnNoRoute=true');
    expect(out.filter((l) => l.startsWith('addressSettings."entity-items".'))).toHaveLength(2);
  });

  it("declares the dead-letter address without a catch-all queue when every user has per-address DLQs", () => {
    const out = lines(outbox);
    expect(out).toContain('addressConfigurations."DLQ".routingTypes=ANYCAST');
    expect(out.some((l) => l.startsWith('addressConfigurations."DLQ".queueConfigs'))).toBe(false);
    expect(out).toContain(
      'addressConfigurations."ExpiryQueue".queueConfigs."ExpiryQueue".routingType=ANYCAST',
    );
    expect(deadLetterQueueName(outbox, "entity-items")).toBe("DLQ.entity-items");
  });

  it("filters the catch-all dead-letter queue so it does not steal per-address dead letters", () => {
    const mixed: ArtemisTopology = {
      addresses: [
        {
          name: "entity-items",
          routingType: "anycast",
          queues: [{ name: "entity-items" }],
          settings: { autoCreateDeadLetterResources: true },
        },
        {
          name: "b.c",
          routingType: "anycast",
          queues: [{ name: "b.c" }],
          settings: { autoCreateDeadLetterResources: true },
        },
      ],
    };
    expect(lines(mixed)).toContain(
      `addressConfigurations."DLQ".queueConfigs."DLQ".filterString=_AMQ_ORIG_ADDRESS NOT IN ('entity-items','b.c')`,
    );
    expect(deadLetterQueueName(mixed, "b.c")).toBe("DLQ.b.c");
    expect(deadLetterQueueName(mixed, "unknown")).toBeUndefined();
    // With no per-address DLQ at all, the catch-all queue takes everything.
    const plain = lines({ addresses: [{ name: "x", routingType: "anycast", queues: [{ name: "x" }] }] });
    expect(plain).toContain('addressConfigurations."DLQ".queueConfigs."DLQ".durable=true');
    expect(plain.some((l) => l.includes("filterString"))).toBe(false);
  });

  it("renders multicast addresses, non-durable queues and dotted names quoted", () => {
    const out = lines({
      addresses: [
        {
          name: "events.v1",
          routingType: "multicast",
          queues: [{ name: "events.v1.audit", durable: false }],
        },
      ],
    });
    expect(out).toContain('addressConfigurations."events.v1".routingTypes=MULTICAST');
    expect(out).toContain(
      'addressConfigurations."events.v1".queueConfigs."events.v1.audit".routingType=MULTICAST',
    );
    expect(out).toContain('addressConfigurations."events.v1".queueConfigs."events.v1.audit".durable=false');
  });

  it("renders diverts and refuses ones naming undeclared addresses", () => {
    const topology: ArtemisTopology = {
      addresses: [
        { name: "events", routingType: "multicast", queues: [] },
        { name: "events.audit", routingType: "anycast", queues: [{ name: "events.audit" }] },
      ],
      diverts: [{ name: "events-to-audit", address: "events", forwardingAddress: "events.audit" }],
    };
    expect(lines(topology)).toEqual(
      expect.arrayContaining([
        'divertConfigurations."events-to-audit".address=events',
        'divertConfigurations."events-to-audit".forwardingAddress=events.audit',
        'divertConfigurations."events-to-audit".exclusive=false',
        'divertConfigurations."events-to-audit".routingType=ANYCAST',
      ]),
    );
    expect(() =>
      renderBrokerProperties({
        ...topology,
        diverts: [{ name: "d", address: "events", forwardingAddress: "nowhere" }],
      }),
    ).toThrow(/undeclared address "nowhere"/);
  });

  it("does not re-declare a dead-letter address the topology declares itself", () => {
    const out = lines({
      addresses: [{ name: "DLQ", routingType: "anycast", queues: [{ name: "DLQ" }] }],
      defaultSettings: { deadLetterAddress: "DLQ" },
    });
    expect(out.filter((l) => l === 'addressConfigurations."DLQ".routingTypes=ANYCAST')).toHaveLength(1);
  });
});

describe("topology validation", () => {
  const bad =
    (topology: ArtemisTopology): (() => string) =>
    () =>
      renderBrokerProperties(topology);

  it.each(['a"b', "a b", "a=b", "a:b", "a#b", "a\\b", "", "ü", ".x", "x\ny"])("rejects name %j", (name) => {
    expect(bad({ addresses: [{ name, routingType: "anycast", queues: [] }] })).toThrow(TopologyError);
    expect(bad({ addresses: [{ name: "ok", routingType: "anycast", queues: [{ name }] }] })).toThrow(
      /Invalid Artemis queue name/,
    );
  });

  it("rejects duplicates, bad numbers and bad routing types with a clear message", () => {
    expect(
      bad({
        addresses: [
          { name: "a", routingType: "anycast", queues: [] },
          { name: "a", routingType: "anycast", queues: [] },
        ],
      }),
    ).toThrow(/address "a" is declared twice/);
    expect(
      bad({
        addresses: [
          { name: "a", routingType: "anycast", queues: [{ name: "q" }] },
          { name: "b", routingType: "anycast", queues: [{ name: "q" }] },
        ],
      }),
    ).toThrow(/queue "q" is declared twice/);
    expect(bad({ addresses: [], defaultSettings: { maxDeliveryAttempts: 0 } })).toThrow(
      /maxDeliveryAttempts/,
    );
    expect(bad({ addresses: [], defaultSettings: { redeliveryDelayMs: 1.5 } })).toThrow(/redeliveryDelayMs/);
    expect(bad({ addresses: [], defaultSettings: { redeliveryMultiplier: 0.5 } })).toThrow(
      /redeliveryMultiplier/,
    );
    expect(bad({ addresses: [], defaultSettings: { deadLetterAddress: "D L Q" } })).toThrow(
      /deadLetterAddress/,
    );
    expect(bad({ addresses: [], idCacheSize: 0 })).toThrow(/idCacheSize/);
    expect(bad({ addresses: [{ name: "a", routingType: "fanout" as "anycast", queues: [] }] })).toThrow(
      /routingType/,
    );
    expect(lines({ addresses: [], defaultSettings: { maxDeliveryAttempts: -1 } })).toContain(
      'addressSettings."#".maxDeliveryAttempts=-1',
    );
  });
});

describe("address full policy", () => {
  it("renders maxSizeBytes and addressFullMessagePolicy, and refuses a zero size", () => {
    const props = renderBrokerProperties({
      addresses: [
        {
          name: "small",
          routingType: "anycast",
          queues: [{ name: "small" }],
          settings: { maxSizeBytes: 1024, addressFullMessagePolicy: "FAIL" },
        },
      ],
    });
    expect(props).toContain('addressSettings."small".maxSizeBytes=1024');
    expect(props).toContain('addressSettings."small".addressFullMessagePolicy=FAIL');
    expect(() =>
      renderBrokerProperties({
        addresses: [
          { name: "x", routingType: "anycast", queues: [{ name: "x" }], settings: { maxSizeBytes: 0 } },
        ],
      }),
    ).toThrow(/maxSizeBytes/);
  });
});
