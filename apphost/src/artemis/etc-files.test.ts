import { describe, expect, it } from "vitest";
import { artemisEtcFiles } from "./etc-files.js";
import { renderBrokerProperties, type ArtemisTopology } from "./topology.js";

describe("artemisEtcFiles", () => {
  const topology: ArtemisTopology = {
    addresses: [{ name: "orders", routingType: "anycast", queues: [{ name: "orders" }] }],
  };

  it("gives broker.properties: the topology rendering followed by the instance settings", () => {
    const files = artemisEtcFiles(topology);
    expect([...files.keys()]).toEqual(["broker.properties"]);
    const properties = files.get("broker.properties") ?? "";
    expect(properties.startsWith(renderBrokerProperties(topology))).toBe(true);
    expect(properties).toContain("criticalAnalyzerPolicy=LOG");
    expect(properties).toContain("maxDiskUsage=-1");
  });

  it("refuses an invalid topology before anything is written", () => {
    expect(() =>
      artemisEtcFiles({ addresses: [{ name: "bad name", routingType: "anycast", queues: [] }] }),
    ).toThrow(/Invalid Artemis address name/);
  });
});
